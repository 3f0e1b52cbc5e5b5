// Every timestamp the console shows goes through formatTime: the time zone (UTC or the
// browser's local zone) is a setting kept in localStorage and applied everywhere.
import { useSyncExternalStore } from "react";

export type Zone = "utc" | "local";
const KEY = "vigil.timezone";
const listeners = new Set<() => void>();

export function getZone(): Zone {
  return localStorage.getItem(KEY) === "local" ? "local" : "utc";
}

export function setZone(z: Zone) {
  localStorage.setItem(KEY, z);
  listeners.forEach((l) => l());
}

function subscribe(l: () => void) {
  listeners.add(l);
  return () => listeners.delete(l);
}

/// The current zone, re-rendering the caller when it changes.
export function useZone(): Zone {
  return useSyncExternalStore(subscribe, getZone);
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/// `2026-12-07 11:59:03 UTC` or `2026-12-07 12:59:03 +01:00`; "—" for nothing, the input
/// itself when it is not a time.
export function formatTime(value: string | number | null | undefined, zone: Zone = getZone()): string {
  if (value === null || value === undefined || value === "") return "—";
  const d = typeof value === "number" ? new Date(value) : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  if (zone === "utc") {
    return (
      `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`
    );
  }
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const abs = Math.abs(off);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/// A component-friendly form: re-renders on zone changes.
export function useTime() {
  const zone = useZone();
  return (v: string | number | null | undefined) => formatTime(v, zone);
}
