// The API key of this browser tab: from the link `mediakg serve` prints (#key=..., a URL
// fragment never reaches the server or its logs) or typed in. Kept in sessionStorage only:
// it ends with the tab.
const STORAGE_KEY = "mediakg.apiKey";
const listeners = new Set<() => void>();

export function apiKey(): string | null {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function setKey(key: string): void {
  sessionStorage.setItem(STORAGE_KEY, key.trim());
  listeners.forEach((listener) => listener());
}

let refusal: { message: string; code: string } | null = null;

/** Why the last key was dropped (the server refused it), for the key prompt to say. */
export function lastRefusal(): { message: string; code: string } | null {
  return refusal;
}

export function forgetKey(reason: { message: string; code: string } | null = null): void {
  refusal = reason;
  if (apiKey() !== null) {
    sessionStorage.removeItem(STORAGE_KEY);
    listeners.forEach((listener) => listener());
  }
}

export function onKeyChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Takes a key from the location's fragment (#key=...) and removes it from the address bar. */
export function takeKeyFromFragment(): void {
  const match = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (match) {
    setKey(decodeURIComponent(match[1]));
    history.replaceState(history.state, "", location.pathname + location.search);
  }
}
