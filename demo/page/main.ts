/**
 * The demo outliner: one tree (`?tree=`, default `demo`) shown as a nested list, edited through
 * `openTree` and nothing else. Plain DOM, drawn from change events: each names the parents
 * whose children changed, and only those lists are read again from the replica and redrawn
 * (items that stay keep their elements); an `all` event draws everything again. A large tree
 * shows its first 500 items open and the others closed, each with a "more" button.
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

  // Drawn items by id, and how many more may be drawn open: a large tree (a bootstrap of
  // 100,000 nodes) shows its first items open and the rest closed, each with a "more" button.
  const drawn = new Map<string, HTMLLIElement>();
  const opened = new Set<string>();
  const MAX_DRAWN = 500;

  function setText(li: HTMLLIElement, row: Row) {
    const input = li.querySelector<HTMLInputElement>(':scope > input.text')!;
    const typing = input === document.activeElement && input.value !== input.dataset.drawn;
    if (!typing) input.value = textOf(row);
    input.dataset.drawn = textOf(row);
  }

  /** An item's element, new or the one drawn already (kept with what is under it). */
  function itemOf(row: Row): HTMLLIElement {
    const had = drawn.get(row.id);
    if (had) {
      setText(had, row);
      return had;
    }
    const text = el('input', { className: 'text' });
    // Enter commits as well as `change`: a redraw that moves this item (an indent) takes the
    // input out of the page and focuses it again, and the browser then counts the typed text as
    // the value it had on focus, so Enter alone would fire no `change` and the edit would be lost.
    const commit = () => {
      if (text.value === text.dataset.drawn) return;
      text.dataset.drawn = text.value;
      void act.edit(row.id, text.value);
    };
    text.addEventListener('change', commit);
    text.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') commit();
    });
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
    setText(li, row);
    drawn.set(row.id, li);
    return li;
  }

  /** Draws `parent`'s children into its list again, in their order; items that stay keep
   * their element and what is drawn under it; new ones are drawn down while there is room. */
  async function drawChildren(parent: string): Promise<void> {
    const rows = await tree.children(parent);
    const host = parent === 'ROOT' ? outline : drawn.get(parent);
    if (!host) return;
    let list = parent === 'ROOT' ? outline : host.querySelector<HTMLUListElement>(':scope > ul');
    if (rows.length === 0) {
      if (list === outline) outline.replaceChildren();
      else list?.remove();
      return;
    }
    if (!list) host.append((list = el('ul')));
    host.querySelector(':scope > button.more')?.remove();
    const fresh = rows.filter((r) => !drawn.has(r.id));
    const items = rows.map(itemOf);
    // A child that was an ancestor until this change (two moves swapping who is under whom):
    // this item leaves it first; its own parent's list, changed too, puts it back in place.
    if (items.some((li) => li.contains(host))) host.remove();
    list.replaceChildren(...items);
    for (const row of fresh) await drawBelow(row.id);
  }

  async function drawBelow(id: string): Promise<void> {
    if (drawn.size < MAX_DRAWN || opened.has(id)) {
      opened.add(id);
      await drawChildren(id);
    } else if ((await tree.children(id)).length > 0) {
      const li = drawn.get(id)!;
      li.append(button('more', () => (opened.add(id), drawChildren(id))));
    }
  }

  /** Forgets items no longer in the page (moved away, under TRASH, gone). */
  function prune() {
    for (const [id, li] of drawn) if (!li.isConnected) drawn.delete(id);
  }

  async function drawTrash(): Promise<void> {
    const deleted = await tree.children('TRASH');
    trash.replaceChildren(
      ...deleted.map((row) => {
        const li = el('li', {}, textOf(row) || '(empty)', ' ', button('undelete', () => act.undelete(row.id)));
        li.dataset.id = row.id;
        return li;
      }),
    );
  }

  // One redraw at a time; changes meanwhile are gathered for one more after it.
  let drawing: Promise<void> | undefined;
  let asked: { parents: Set<string>; all: boolean } = { parents: new Set(), all: true };
  const redraw = (parents: string[], all: boolean): Promise<void> => {
    for (const p of parents) asked.parents.add(p);
    asked.all ||= all;
    if (drawing) return drawing;
    drawing = (async () => {
      while (asked.all || asked.parents.size > 0) {
        const now = asked;
        asked = { parents: new Set(), all: false };
        // Typing in progress survives a redraw (a remote change arriving meanwhile).
        const active = document.activeElement;
        const typing = active instanceof HTMLInputElement && active.value !== active.dataset.drawn ? active.value : undefined;
        const focused = (active?.closest('li') as HTMLElement | null)?.dataset.id;
        if (now.all) {
          drawn.clear();
          outline.replaceChildren();
        }
        const lists = now.all ? ['ROOT'] : [...now.parents].filter((p) => p === 'ROOT' || drawn.has(p));
        try {
          for (const p of lists) await drawChildren(p);
        } catch (err) {
          // Drawing only what changed went wrong: draw everything again rather than stay wrong.
          if (now.all) throw err;
          asked.all = true;
          continue;
        }
        if (now.all || now.parents.has('TRASH')) await drawTrash();
        prune();
        const want = pendingFocus ?? focused;
        pendingFocus = undefined;
        const input = want ? drawn.get(want)?.querySelector<HTMLInputElement>(':scope > input.text') : null;
        if (input && input !== active && typing !== undefined && want === focused) input.value = typing;
        if (input && input !== document.activeElement) input.focus();
      }
    })().finally(() => {
      drawing = undefined;
    });
    return drawing;
  };

  tree.subscribe((event) => {
    if (event.type === 'changes') void redraw(event.parents, event.all);
    if (event.type === 'status') showStatus();
    if (event.type === 'bootstrap') {
      const p = event.progress;
      progress.textContent = p.done
        ? ''
        : p.totalRows === 0
          ? 'loading the tree: waiting for the server'
          : `loading the tree: ${p.rows.toLocaleString()} of ${p.totalRows.toLocaleString()} rows`;
    }
  });
  showStatus();
  await redraw([], true);
  page.demoReady = true;
}

main().catch((err: Error) => {
  document.body.append(el('p', { id: 'fatal', textContent: `the demo could not start: ${err.message}` }));
  throw err;
});
