/**
 * The demo outliner: one tree (`?tree=`, default `demo`) shown as a nested list, edited through
 * `openTree` and nothing else. Plain DOM: every change event re-reads the outline from the
 * replica and draws it again (an outline small enough to read is small enough to redraw).
 *
 * Where the server is: `?server=` or, by default, `demo-config.json` beside the page (written
 * by `npm run demo`). `?token=` is sent as the bearer token (the demo server runs in
 * development mode and needs none). The page sets `window.tree` to its TreeClient so it can be
 * scripted from the console and by the tests, and `window.demoReady` once it has drawn.
 *
 * Storage is `opfs`. A second tab of the same tree and origin cannot own that replica (one
 * owner per replica, docs/browser.md), so it falls back to a `memory` replica and says so.
 */
import { openTree, type TreeClient } from '../../client/index.ts';

type Row = { id: string; fields: Record<string, unknown> };

const params = new URL(location.href).searchParams;
const treeId = params.get('tree') ?? 'demo';
const token = params.get('token') ?? undefined;
const page = globalThis as unknown as Record<string, unknown>;

const el = <K extends keyof HTMLElementTagNameMap>(tag: K, props: Record<string, unknown> = {}, ...kids: Array<Node | string>) => {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...kids);
  return node;
};

async function serverUrl(): Promise<string> {
  const given = params.get('server');
  if (given) return given.replace(/\/$/, '');
  const config = (await (await fetch('./demo-config.json')).json()) as { server: string };
  return config.server.replace(/\/$/, '');
}

/** The tree must exist before it can be bootstrapped; PUT is idempotent. Offline: later. */
async function ensureTree(server: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  await fetch(`${server}/v1/trees/${encodeURIComponent(treeId)}`, { method: 'PUT', headers, body: '{}' }).catch(() => undefined);
}

async function open(server: string): Promise<{ tree: TreeClient; storage: string }> {
  const options = { url: server, tree: treeId, ...(token ? { token } : {}) };
  try {
    return { tree: await openTree({ ...options, storage: 'opfs' }), storage: 'opfs' };
  } catch (err) {
    if ((err as { reason?: string }).reason !== 'replica_in_use') throw err;
    return { tree: await openTree({ ...options, storage: 'memory' }), storage: 'memory (this tree is open in another tab)' };
  }
}

const textOf = (row: Row) => (typeof row.fields.text === 'string' ? row.fields.text : '');

/** The edits behind each row's buttons, in terms of the pinned calls. */
function actions(tree: TreeClient) {
  const siblings = async (id: string) => {
    const parent = (await tree.get(id))?.parent ?? 'ROOT';
    const rows = await tree.children(parent);
    return { parent, rows, at: rows.findIndex((r) => r.id === id) };
  };
  return {
    add: (parent: string) => tree.create(parent, { fields: { text: '' } }),
    edit: (id: string, text: string) => tree.set(id, 'text', text),
    async indent(id: string) {
      const { rows, at } = await siblings(id);
      const above = rows[at - 1];
      if (above) await tree.move(id, above.id);
    },
    async outdent(id: string) {
      const { parent } = await siblings(id);
      const grand = (await tree.get(parent))?.parent;
      if (parent !== 'ROOT' && grand) await tree.move(id, grand, { after: parent });
    },
    async up(id: string) {
      const { parent, rows, at } = await siblings(id);
      const above = rows[at - 1];
      if (above) await tree.move(id, parent, { before: above.id });
    },
    async down(id: string) {
      const { parent, rows, at } = await siblings(id);
      const below = rows[at + 1];
      if (below) await tree.move(id, parent, { after: below.id });
    },
    delete: (id: string) => tree.delete(id),
    /** Back where it was deleted from (or at the end of ROOT when that place is gone). */
    undelete: (id: string) => tree.undelete(id),
  };
}

async function main(): Promise<void> {
  const server = await serverUrl();
  await ensureTree(server);
  const { tree, storage } = await open(server);
  page.tree = tree;
  const act = actions(tree);

  const status = el('p', { id: 'status' });
  const progress = el('p', { id: 'progress' });
  const offline = el('input', { type: 'checkbox', id: 'offline' });
  offline.addEventListener('change', () => tree.setOnline(!offline.checked));
  const outline = el('ul', { id: 'outline' });
  const trash = el('ul', { id: 'trash' });
  const addTop = el('button', { id: 'add', textContent: 'Add item' });
  addTop.addEventListener('click', () => void act.add('ROOT').then(focusOn));
  document.title = `treesync demo: ${treeId}`;
  document.body.append(
    el('h1', { textContent: `Outline "${treeId}"` }),
    el('p', { textContent: `replica storage: ${storage}` }),
    el('label', {}, offline, ' offline'),
    status,
    progress,
    outline,
    addTop,
    el('h2', { textContent: 'Recently deleted' }),
    trash,
  );

  const showStatus = () => {
    const s = tree.status();
    status.textContent =
      `${s.online ? 'online' : 'offline'}${s.syncing ? ', syncing' : ''}; pending ${s.pending}; ` +
      `seq ${s.seq ?? '-'}${s.lastError ? `; last error: ${s.lastError.code}: ${s.lastError.message}` : ''}`;
    status.dataset.pending = String(s.pending);
  };

  let pendingFocus: string | undefined;
  function focusOn(id: string) {
    pendingFocus = id;
  }

  const button = (label: string, run: () => Promise<unknown>) => {
    const b = el('button', { textContent: label, className: label });
    b.addEventListener('click', () => void run().catch((err: Error) => (status.textContent = `error: ${err.message}`)));
    return b;
  };

  async function drawItem(row: Row): Promise<HTMLLIElement> {
    const text = el('input', { className: 'text', value: textOf(row) });
    text.dataset.drawn = textOf(row);
    text.addEventListener('change', () => void act.edit(row.id, text.value));
    const kids = await tree.children(row.id);
    const li = el(
      'li',
      {},
      text,
      button('add', () => act.add(row.id).then(focusOn)),
      button('indent', () => act.indent(row.id)),
      button('outdent', () => act.outdent(row.id)),
      button('up', () => act.up(row.id)),
      button('down', () => act.down(row.id)),
      button('delete', () => act.delete(row.id)),
    );
    li.dataset.id = row.id;
    if (kids.length > 0) li.append(el('ul', {}, ...(await Promise.all(kids.map(drawItem)))));
    return li;
  }

  // One redraw at a time; changes during one ask for one more after it.
  let drawing: Promise<void> | undefined;
  let again = false;
  const redraw = (): Promise<void> => {
    if (drawing) {
      again = true;
      return drawing;
    }
    drawing = (async () => {
      do {
        again = false;
        const [top, deleted] = await Promise.all([tree.children('ROOT'), tree.children('TRASH')]);
        const items = await Promise.all(top.map(drawItem));
        // Typing in progress survives a redraw (a remote change arriving meanwhile).
        const active = document.activeElement;
        const typing = active instanceof HTMLInputElement && active.value !== active.dataset.drawn ? active.value : undefined;
        const focused = (active?.closest('li') as HTMLElement | null)?.dataset.id;
        outline.replaceChildren(...items);
        trash.replaceChildren(
          ...deleted.map((row) => {
            const li = el('li', {}, textOf(row) || '(empty)', ' ', button('undelete', () => act.undelete(row.id)));
            li.dataset.id = row.id;
            return li;
          }),
        );
        const want = pendingFocus ?? focused;
        pendingFocus = undefined;
        const input = want ? outline.querySelector<HTMLInputElement>(`li[data-id="${want}"] > input.text`) : null;
        if (input && typing !== undefined && want === focused) input.value = typing;
        input?.focus();
      } while (again);
      drawing = undefined;
    })();
    return drawing;
  };

  tree.subscribe((event) => {
    if (event.type === 'changes') void redraw();
    if (event.type === 'status') showStatus();
    if (event.type === 'bootstrap') {
      const p = event.progress;
      progress.textContent = p.done ? '' : `loading the tree: ${p.rows.toLocaleString()} of ${p.totalRows.toLocaleString()} rows`;
    }
  });
  showStatus();
  await redraw();
  page.demoReady = true;
}

main().catch((err: Error) => {
  document.body.append(el('p', { id: 'fatal', textContent: `the demo could not start: ${err.message}` }));
  throw err;
});
