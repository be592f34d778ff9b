// The scratch app's code, written the way the README tells an app to: the package's public
// entry only. The test reads `window.appResult` once the app has synced (app.pg.test.ts).
import { openTree } from 'treesync/client';

const params = new URLSearchParams(location.search);
const win = window as unknown as { appResult?: unknown };

try {
  const tree = await openTree({
    url: location.origin,
    tree: params.get('tree')!,
    token: params.get('token')!,
    storage: 'opfs',
  });
  const id = await tree.create('ROOT', { fields: { title: 'written by the app' } });
  await tree.sync();
  const children = await tree.children('ROOT');
  const list = document.getElementById('outline')!;
  for (const child of children) {
    const item = document.createElement('li');
    item.textContent = String(child.fields.title ?? child.id);
    list.append(item);
  }
  win.appResult = { ok: true, created: id, children };
  await tree.close();
} catch (err) {
  win.appResult = { ok: false, error: String(err) };
}
