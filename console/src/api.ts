// The one HTTP client of the console: JSON in and out, the session cookie (sent by the
// browser), the CSRF token on every change, and problem+json errors turned into ApiError
// with the server's detail. A 401 sends the user back to the login page. The CSRF token is
// kept in localStorage so that every tab of the session can make changes; the session cookie
// itself is HttpOnly and SameSite=Strict.

export class ApiError extends Error {
  status: number;
  body: unknown;
  constructor(status: number, message: string, body: unknown) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

const CSRF_KEY = "vigil.csrf";
let onUnauthorized: (() => void) | null = null;

export function setUnauthorizedHandler(f: () => void) {
  onUnauthorized = f;
}

export function setCsrf(token: string | null) {
  if (token) localStorage.setItem(CSRF_KEY, token);
  else localStorage.removeItem(CSRF_KEY);
}

export async function api<T = any>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") {
    const csrf = localStorage.getItem(CSRF_KEY);
    if (csrf) headers["X-CSRF-Token"] = csrf;
  }
  const resp = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  const text = await resp.text();
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!resp.ok) {
    const detail =
      (data && typeof data === "object" && (data.detail || data.error)) ||
      `${method} ${path} failed with status ${resp.status}`;
    if (resp.status === 401 && !path.endsWith("/auth/login") && onUnauthorized) onUnauthorized();
    throw new ApiError(resp.status, String(detail), data);
  }
  return data as T;
}

export const get = <T = any>(path: string) => api<T>("GET", path);
export const post = <T = any>(path: string, body?: unknown) => api<T>("POST", path, body ?? {});
export const patch = <T = any>(path: string, body: unknown) => api<T>("PATCH", path, body);
export const del = <T = any>(path: string) => api<T>("DELETE", path);

/// A query string from the set values of `params`.
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;
