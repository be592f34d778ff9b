/**
 * The demo outliner: one tree (`?tree=`, default `demo`) shown as a nested list, edited through
 * `openTree` and nothing else. Plain DOM, drawn from change events: each names the parents
 * whose children changed, and only those lists are read again from the replica and redrawn
 * (items that stay keep their elements); an `all` event draws everything again. A large tree
 * shows its first 500 items open and the others closed, each with a "more" button.
 *
 * An edit is drawn at once, in the frame it is made in: the TreeClient's `pending` event comes
 * inside the edit's call, and the page applies it to what it shows (the item's text, the item
 * moved, added or taken away; the buttons also find their neighbours in the page, not in the
 * replica). It is then reconciled: a committed edit's change event redraws the lists it
 * touched from the replica, as every change event does; a refused edit (settled with an error,
 * and no change event) has the lists it touched read again from the replica, and is said in the
 * notice line. Lists redrawn for other changes while an edit is still pending get the pending
 * edit applied again on top.
 *
 * Where the server is: `?server=` or, by default, `demo-config.json` beside the page (written
 * by `npm run demo`). `?token=` is sent as the bearer token (the demo server runs in
 * development mode and needs none). The page sets `window.tree` to its TreeClient so it can be
 * scripted from the console and by the tests, and `window.demoReady` once it has drawn.
 *
 * Storage is `opfs`. A second tab of the same tree and origin cannot own that replica (one
 * owner per replica, docs/browser.md), so it falls back to a `memory` replica and says so.
 */
import { openTree, type PendingChange, type TreeClient } from '../../client/index.ts';

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

/** An item's place as the page shows it: its parent (`ROOT` for the top level) and its
 * neighbours in that list; undefined when it is not in the outline. */
function shownPlace(li: HTMLLIElement | undefined): { parent: string; above?: string; below?: string } | undefined {
  const list = li?.parentElement;
  if (!li || !list || !li.isConnected) return undefined;
  const parent = list.id === 'outline' ? 'ROOT' : (list.parentElement as HTMLElement | null)?.dataset.id;
  if (parent === undefined || list.closest('#outline') === null) return undefined;
  return {
    parent,
    above: (li.previousElementSibling as HTMLElement | null)?.dataset.id,
    below: (li.nextElementSibling as HTMLElement | null)?.dataset.id,
  };
}

/** The edits behind each row's buttons, in terms of the pinned calls, placed from what the
 * page shows (so each is drawn at once, without reading the replica first). */
function actions(tree: TreeClient, itemOf: (id: string) => HTMLLIElement | undefined) {
  const place = (id: string) => shownPlace(itemOf(id));
  return {
    add: (parent: string) => tree.create(parent, { fields: { text: '' } }),
    edit: (id: string, text: string) => tree.set(id, 'text', text),
    async indent(id: string) {
      const above = place(id)?.above;
      if (above) await tree.move(id, above);
    },
    async outdent(id: string) {
      const parent = place(id)?.parent;
      const grand = parent === undefined || parent === 'ROOT' ? undefined : place(parent)?.parent;
      if (parent && grand) await tree.move(id, grand, { after: parent });
    },
    async up(id: string) {
      const at = place(id);
      if (at?.above) await tree.move(id, at.parent, { before: at.above });
    },
    async down(id: string) {
      const at = place(id);
      if (at?.below) await tree.move(id, at.parent, { after: at.below });
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
  // Drawn items by id, and how many more may be drawn open: a large tree (a bootstrap of
  // 100,000 nodes) shows its first items open and the rest closed, each with a "more" button.
  const drawn = new Map<string, HTMLLIElement>();
  const opened = new Set<string>();
  const MAX_DRAWN = 500;
  const act = actions(tree, (id) => drawn.get(id));

  const status = el('p', { id: 'status' });
  const notice = el('p', { id: 'notice' });
  const progress = el('p', { id: 'progress' });
  const offline = el('input', { type: 'checkbox', id: 'offline' });
  offline.addEventListener('change', () => tree.setOnline(!offline.checked));
  const outline = el('ul', { id: 'outline' });
  // The item that had the focus last. A redraw can take a focused item's element out of the
  // page for a moment (a list replaced while an edit of it is pending); the focus then goes back
  // to it. Focus given to anything outside the outline forgets it. (Taking an element out of
  // the page fires `focusout` on it too, so that event cannot tell.)
  let focusedLast: string | undefined;
  document.addEventListener('focusin', (e) => {
    const target = e.target as Element;
    focusedLast = outline.contains(target) ? (target.closest('li') as HTMLElement | null)?.dataset.id : undefined;
  });
  const trash = el('ul', { id: 'trash' });
  const addTop = el('button', { id: 'add', textContent: 'Add item' });
  addTop.addEventListener('click', () => add('ROOT'));
  document.title = `treesync demo: ${treeId}`;
  document.head.append(el('style', { textContent: 'li.pending > input.text { color: #777; }' }));
  document.body.append(
    el('h1', { textContent: `Outline "${treeId}"` }),
    el('p', { textContent: `replica storage: ${storage}` }),
    el('label', {}, offline, ' offline'),
    status,
    notice,
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

  // A refused edit is said here (the settled event; buttons' calls reject with the same).
  const refused = (err: { message: string }) => (notice.textContent = `edit refused: ${err.message}`);
  const button = (label: string, run: () => Promise<unknown>) => {
    const b = el('button', { textContent: label, className: label });
    b.addEventListener('click', () => void run().catch(refused));
    return b;
  };
  // The add buttons focus the new item, drawn at once from its pending create.
  let focusCreated = false;
  function add(parent: string) {
    focusCreated = true;
    try {
      void act.add(parent).catch(refused);
    } finally {
      focusCreated = false;
    }
  }

  const inputOf = (li: HTMLLIElement) => li.querySelector<HTMLInputElement>(':scope > input.text')!;

  /** The person is typing into the item's box: text not committed yet, in the box that has the
   * focus, or had it last (a redraw may have taken it out of the page for a moment, and with it
   * the focus, which it gives back at its end). */
  const typingIn = (li: HTMLLIElement, input: HTMLInputElement) =>
    input.value !== input.dataset.drawn && (input === document.activeElement || (focusedLast !== undefined && li.dataset.id === focusedLast));

  /** Shows the replica's text (`data-drawn` is the text as the replica last had it), unless the
   * person is typing into the box. */
  function setText(li: HTMLLIElement, row: Row) {
    const input = inputOf(li);
    const typing = typingIn(li, input);
    if (!typing) input.value = textOf(row);
    input.dataset.drawn = textOf(row);
    li.classList.remove('pending');
  }

  /** An item's element, new or the one drawn already (kept with what is under it). */
  function itemOf(row: Row): HTMLLIElement {
    const had = drawn.get(row.id);
    if (had) {
      setText(had, row);
      return had;
    }
    return newItem(row);
  }

  function newItem(row: Row): HTMLLIElement {
    const text = el('input', { className: 'text' });
    // Enter commits as well as `change`: a redraw that moves this item (an indent) takes the
    // input out of the page and focuses it again, and the browser then counts the typed text as
    // the value it had on focus, so Enter alone would fire no `change` and the edit would be lost.
    const commit = () => {
      if (text.value === text.dataset.drawn) return;
      text.dataset.drawn = text.value;
      void act.edit(row.id, text.value).catch(refused);
    };
    text.addEventListener('change', commit);
    text.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') commit();
    });
    const li = el(
      'li',
      {},
      text,
      button('add', async () => add(row.id)),
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
  // `clean`: start from an empty outline (drawing in place went wrong).
  let asked: { parents: Set<string>; all: boolean; clean?: boolean } = { parents: new Set(), all: true };
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
        // `all`: every list drawn open is read again, ROOT's first, each replaced only once its
        // rows are read (the page never shows an empty outline meanwhile, and an edit drawn
        // from its pending event stays until the replica's lists are drawn).
        if (now.clean) {
          drawn.clear();
          outline.replaceChildren();
        }
        const lists = now.all
          ? ['ROOT', ...[...drawn.keys()].filter((id) => opened.has(id))]
          : [...now.parents].filter((p) => p === 'ROOT' || drawn.has(p));
        try {
          for (const p of lists) await drawChildren(p);
        } catch (err) {
          // Drawing in place went wrong: draw everything again from nothing rather than stay wrong.
          if (now.clean) throw err;
          asked.all = true;
          asked.clean = true;
          continue;
        }
        if (now.all || now.parents.has('TRASH')) await drawTrash();
        // The replica's lists may not have the edits still pending yet: on top of them again.
        for (const { change } of pending.values()) showPending(change);
        prune();
        // Only a focus the redraw lost is given back (to the item that had it last, which may
        // have been created while the lists were read); one the person moved stays.
        const activeNow = document.activeElement;
        const lost = activeNow === null || activeNow === document.body;
        const want = lost ? focusedLast : undefined;
        const input = want ? drawn.get(want)?.querySelector<HTMLInputElement>(':scope > input.text') : null;
        if (input && input !== active && typing !== undefined && want === focused) input.value = typing;
        if (input?.isConnected) input.focus();
      }
    })().finally(() => {
      drawing = undefined;
    });
    return drawing;
  };

  /** A parent's children are drawn: ROOT's always, an item's when it is drawn open. */
  function childrenShown(parent: string): boolean {
    if (parent === 'ROOT') return true;
    const host = drawn.get(parent);
    return host?.isConnected === true && opened.has(parent) && host.querySelector(':scope > button.more') === null;
  }

  /** Where a parent's children are drawn (its list made when `make` and it has none yet);
   * undefined when they are not drawn. */
  function listOf(parent: string, make: boolean): HTMLUListElement | undefined {
    if (parent === 'ROOT') return outline;
    if (!childrenShown(parent)) return undefined;
    const host = drawn.get(parent)!;
    let list = host.querySelector<HTMLUListElement>(':scope > ul') ?? undefined;
    if (!list && make) host.append((list = el('ul')));
    return list;
  }

  /** Puts `li` into `parent`'s list after or before a sibling (else at the end), as the replica
   * will place it; takes it out of the page when that list is not drawn. No move under itself
   * (the replica refuses it; the page shows nothing of it). */
  function putItem(li: HTMLLIElement, parent: string, at: { after?: string; before?: string }) {
    const list = listOf(parent, true);
    if (!list) return li.remove();
    if (li.contains(list)) return;
    const after = at.after === undefined ? undefined : drawn.get(at.after);
    const before = at.before === undefined ? undefined : drawn.get(at.before);
    if (after && after !== li && after.parentElement === list) after.after(li);
    else if (before && before !== li && before.parentElement === list) before.before(li);
    else list.append(li);
  }

  /** Draws a pending edit on what the page shows; returns the parents whose lists it touched
   * (read again from the replica once the edit is settled). Drawing it twice changes nothing. */
  function showPending(change: PendingChange): string[] {
    const li = drawn.get(change.node);
    const from = shownPlace(li)?.parent;
    switch (change.kind) {
      case 'set': {
        if (!li || change.key !== 'text') return from ? [from] : [];
        const input = inputOf(li);
        const typing = typingIn(li, input);
        if (!typing) input.value = typeof change.value === 'string' ? change.value : '';
        li.classList.add('pending');
        return from ? [from] : [];
      }
      case 'create': {
        if (!childrenShown(change.parent)) return [change.parent];
        const item = li ?? newItem({ id: change.node, fields: change.fields });
        // A new node has no children: drawn open.
        opened.add(change.node);
        item.classList.add('pending');
        putItem(item, change.parent, change);
        if (focusCreated && item.isConnected) inputOf(item).focus();
        return [change.parent];
      }
      case 'move':
        if (li) {
          putItem(li, change.parent, change);
          li.classList.add('pending');
        }
        return from ? [from, change.parent] : [change.parent];
      case 'delete':
        li?.remove();
        return from ? [from, 'TRASH'] : ['TRASH'];
      case 'undelete':
        trash.querySelector(`:scope > li[data-id="${CSS.escape(change.node)}"]`)?.remove();
        return ['TRASH'];
    }
  }

  // Edits drawn but not yet settled, by number, with the lists they touched.
  const pending = new Map<number, { change: PendingChange; touched: string[] }>();

  tree.subscribe((event) => {
    if (event.type === 'pending') pending.set(event.edit, { change: event.change, touched: showPending(event.change) });
    if (event.type === 'settled') {
      const edit = pending.get(event.edit);
      pending.delete(event.edit);
      // Refused: the lists the edit touched, as the replica has them (nothing changed there, so
      // no change event comes). Committed: the edit's change event redraws them.
      if (event.error) {
        refused(event.error);
        if (edit) void redraw(edit.touched, false);
      }
    }
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
