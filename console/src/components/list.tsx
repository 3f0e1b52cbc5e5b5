// Server-side lists: one hook that keeps a list's paging, sorting, text search and filters,
// asks the server for one page (`limit offset sort order q` plus the list's own filters) and
// answers it, and the pieces every paged table shares (sortable headers, the pager with its
// page size, the search box).
//
// Invariants: the browser never holds more than one page of a list; any change other than
// the page itself goes back to the first page; the text search reaches the server only
// after the user stops typing for SEARCH_DELAY_MS. With `inUrl` the state lives in the
// address (`/devices?tag=pci&sort=DeviceName`), so a list can be linked to, reloaded and
// walked with the back button; only values that differ from the defaults are written there.
import { useEffect, useMemo, useRef, useState } from "react";
import { qs } from "../api";
import { navigate, useLocation } from "../router";
import { Pager, useGet, type Loaded } from "./ui";

export const SEARCH_DELAY_MS = 250;
export const PAGE_SIZES = [25, 50, 100, 200];

export type Order = "asc" | "desc";

/// One page of a list as the server answers it.
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface ListOptions {
  /// The sort field and order when the user has chosen none.
  sort: string;
  order?: Order;
  limit?: number;
  /// The list's own filter parameters (sent as they are when set).
  filters?: string[];
  /// Keep the state in the page address instead of the component.
  inUrl?: boolean;
  /// Fields that sort ascending on their first click (names, titles); others start descending.
  ascFirst?: string[];
}

export interface ServerList<T> {
  page: Loaded<Page<T>>;
  limit: number;
  offset: number;
  sort: string;
  order: Order;
  filter: (name: string) => string;
  setFilter: (name: string, value: string) => void;
  setOffset: (n: number) => void;
  setLimit: (n: number) => void;
  /// Sort by `field`; again on the same field flips the order.
  sortBy: (field: string) => void;
}

type Params = Record<string, string>;

/// The list state kept either in the address or in the component.
function useParams(keys: string[], inUrl: boolean): [Params, (patch: Params) => void] {
  const { path, query } = useLocation();
  const [local, setLocal] = useState<Params>({});
  const fromUrl = useMemo(() => {
    const out: Params = {};
    for (const k of keys) {
      const v = query.get(k);
      if (v !== null) out[k] = v;
    }
    return out;
    // `query` is a new object on every render; its text is what matters.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [query.toString(), keys.join(",")]);
  if (!inUrl) return [local, (patch) => setLocal((p) => ({ ...p, ...patch }))];
  const update = (patch: Params) => {
    const next = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(patch)) {
      if (v === "") next.delete(k);
      else next.set(k, v);
    }
    const s = next.toString();
    navigate(path + (s ? `?${s}` : ""), true);
  };
  return [fromUrl, update];
}

/// One page of `endpoint`, with the state to move through it.
export function useServerList<T = any>(endpoint: string, opts: ListOptions): ServerList<T> {
  const filters = opts.filters ?? [];
  const keys = ["limit", "offset", "sort", "order", "q", ...filters];
  const [params, update] = useParams(keys, !!opts.inUrl);
  const defLimit = opts.limit ?? 50;
  const limit = Number(params.limit) > 0 ? Number(params.limit) : defLimit;
  const offset = Number(params.offset) > 0 ? Number(params.offset) : 0;
  const sort = params.sort || opts.sort;
  const order: Order = params.order === "asc" || params.order === "desc" ? params.order : (opts.order ?? "desc");
  const q = (params.q ?? "").trim();

  // Any change but the page itself starts again at the first page; defaults are not written.
  const change = (patch: Params) => update({ offset: "", ...patch });

  const query: Record<string, string | number> = { limit, offset, sort, order };
  if (q) query.q = q;
  for (const f of filters) if (params[f]) query[f] = params[f];
  const page = useGet<Page<T>>(endpoint + qs(query));

  return {
    page,
    limit,
    offset,
    sort,
    order,
    filter: (name) => params[name] ?? "",
    setFilter: (name, value) => change({ [name]: value }),
    setOffset: (n) => update({ offset: n > 0 ? String(n) : "" }),
    setLimit: (n) => change({ limit: n === defLimit ? "" : String(n) }),
    sortBy: (field) => {
      const next: Order =
        field === sort ? (order === "desc" ? "asc" : "desc") : (opts.ascFirst ?? []).includes(field) ? "asc" : "desc";
      const isDefault = field === opts.sort && next === (opts.order ?? "desc");
      change({ sort: field === opts.sort ? "" : field, order: isDefault ? "" : next });
    },
  };
}

/// A column header that sorts the list on the server; `aria-sort` tells which one does.
export function SortTh(props: { field: string; label: string; sort: string; order: Order; onSort: (field: string) => void; title?: string }) {
  const on = props.sort === props.field;
  return (
    <th
      className="sortable"
      title={props.title}
      onClick={() => props.onSort(props.field)}
      aria-sort={on ? (props.order === "asc" ? "ascending" : "descending") : "none"}
    >
      {props.label} {on ? (props.order === "asc" ? "▲" : "▼") : ""}
    </th>
  );
}

/// The sortable headers of `list` for the given `[field, label]` columns.
export function sortHeaders(list: { sort: string; order: Order; sortBy: (f: string) => void }, columns: [string, string][]) {
  return columns.map(([field, label]) => (
    <SortTh key={field} field={field} label={label} sort={list.sort} order={list.order} onSort={list.sortBy} />
  ));
}

/// The pager under a list, with the page size.
export function ListFoot<T>({ list }: { list: ServerList<T> }) {
  const data = list.page.data;
  if (!data) return null;
  return (
    <div className="table-foot">
      <Pager total={data.total} limit={list.limit} offset={list.offset} onChange={list.setOffset} />
      <label>
        Per page{" "}
        <select value={list.limit} onChange={(e) => list.setLimit(Number(e.target.value))}>
          {PAGE_SIZES.map((n) => (
            <option key={n}>{n}</option>
          ))}
        </select>
      </label>
    </div>
  );
}

/// A text input that commits its value a moment after the user stops typing (and at once on
/// Enter); a new `value` from outside (a link, the back button) replaces what is shown.
export function DebouncedInput(props: { value: string; onCommit: (v: string) => void; name: string; placeholder?: string; size?: number; type?: string }) {
  const { value, onCommit } = props;
  const [text, setText] = useState(value);
  const committed = useRef(value);
  useEffect(() => {
    if (value !== committed.current) {
      committed.current = value;
      setText(value);
    }
  }, [value]);
  const commit = (v: string) => {
    const t = v.trim();
    if (t === committed.current) return;
    committed.current = t;
    onCommit(t);
  };
  useEffect(() => {
    const timer = setTimeout(() => commit(text), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);
  return (
    <input
      type={props.type ?? "text"}
      name={props.name}
      value={text}
      size={props.size}
      placeholder={props.placeholder}
      onChange={(e) => setText(e.target.value)}
      onKeyDown={(e) => e.key === "Enter" && commit(text)}
    />
  );
}

/// The list's search box (`q`: any text field of an item contains it).
export function SearchBox<T>({ list, placeholder, name }: { list: ServerList<T>; placeholder: string; name: string }) {
  return (
    <label>
      Search
      <DebouncedInput type="search" name={name} value={list.filter("q")} onCommit={(v) => list.setFilter("q", v)} placeholder={placeholder} />
    </label>
  );
}

/// A select filter of `list` with "Any" first.
export function FilterSelect<T>({ list, name, label, options }: { list: ServerList<T>; name: string; label: string; options: string[] }) {
  return (
    <label>
      {label}
      <select name={name} value={list.filter(name)} onChange={(e) => list.setFilter(name, e.target.value)}>
        <option value="">Any</option>
        {options.map((o) => (
          <option key={o}>{o}</option>
        ))}
      </select>
    </label>
  );
}
