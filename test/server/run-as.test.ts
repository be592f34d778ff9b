// Whether the `postgres` user can reach a folder, from the mode bits of each folder on the way
// (the check that runs as root before the embedded Postgres starts; here on made-up folders,
// so it runs as any user).
import { describe, expect, test } from 'vitest';
import { type FolderAccess, firstBlocked } from '../../server/embedded-db/run-as.ts';

const POSTGRES = { uid: 999, gid: 998 };
const ROOT_DIR: FolderAccess = { mode: 0o755, uid: 0, gid: 0 };

function tree(folders: Record<string, FolderAccess>) {
  return async (p: string) => folders[p];
}

describe('firstBlocked', () => {
  test('a folder open to others on every step is reachable', async () => {
    const stat = tree({ '/': ROOT_DIR, '/srv': ROOT_DIR, '/srv/app': ROOT_DIR });
    expect(await firstBlocked('/srv/app/data', POSTGRES, false, stat)).toBeUndefined();
  });

  test('a 700 folder of root on the way blocks, and is the one named', async () => {
    const stat = tree({ '/': ROOT_DIR, '/root': { mode: 0o700, uid: 0, gid: 0 }, '/root/app': ROOT_DIR });
    expect(await firstBlocked('/root/app/node_modules/bin/postgres', POSTGRES, false, stat)).toBe('/root');
  });

  test("owner and group bits count for the postgres user's own folders", async () => {
    const stat = tree({
      '/': ROOT_DIR,
      '/a': { mode: 0o710, uid: 0, gid: POSTGRES.gid },
      '/a/b': { mode: 0o700, uid: POSTGRES.uid, gid: 0 },
      '/a/b/c': { mode: 0o770, uid: 0, gid: 0 },
    });
    expect(await firstBlocked('/a/b/x', POSTGRES, false, stat)).toBeUndefined();
    expect(await firstBlocked('/a/b/c/x', POSTGRES, false, stat)).toBe('/a/b/c');
  });

  test('the path itself counts only when asked; folders not made yet do not block', async () => {
    const stat = tree({ '/': ROOT_DIR, '/d': { mode: 0o700, uid: 0, gid: 0 } });
    expect(await firstBlocked('/d', POSTGRES, false, stat)).toBeUndefined();
    expect(await firstBlocked('/d', POSTGRES, true, stat)).toBe('/d');
    expect(await firstBlocked('/new/deeper/data', POSTGRES, false, stat)).toBeUndefined();
  });
});
