/** The signed-in key and secret: in sessionStorage only (gone with the tab), never in URLs or localStorage. */
export interface Credentials {
  key: string;
  secret: string;
}

const STORAGE_KEY = "labeling-console.credentials";

export function loadCredentials(): Credentials | null {
  try {
    const value = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null") as Partial<Credentials> | null;
    return value && typeof value.key === "string" && typeof value.secret === "string" ? { key: value.key, secret: value.secret } : null;
  } catch {
    return null;
  }
}

export const saveCredentials = (credentials: Credentials) => sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credentials));
export const clearCredentials = () => sessionStorage.removeItem(STORAGE_KEY);
