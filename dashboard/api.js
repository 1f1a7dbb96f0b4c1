// The HTTP API of the stack, on the same origin as this page (CloudFront sends /dashboard/* to the dashboard
// files and everything else to the API; the local emulator does the same). With JWT auth on, every request
// carries the token the user pasted, kept in sessionStorage only (gone when the tab closes).

const TOKEN_KEY = "review-sentiment-token";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function storeToken(token) {
  if (token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  } else {
    sessionStorage.removeItem(TOKEN_KEY);
  }
}

function explain(status, body) {
  if (status === 401 || status === 403) {
    return `The API refused the request (${status}): JWT auth is on, so paste a valid token in the token field.`;
  }
  const detail = body && typeof body.message === "string" ? body.message : `HTTP ${status}`;
  return `The API answered ${status}: ${detail}`;
}

export async function getJson(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") {
      url.searchParams.set(name, String(value));
    }
  }
  const headers = { Accept: "application/json" };
  const token = storedToken();
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  let response;
  try {
    response = await fetch(url, { headers, cache: "no-store" });
  } catch (error) {
    throw new ApiError(0, `The API could not be reached (${error.message}).`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError(response.status, explain(response.status, body));
  }
  return body;
}

// Every item of a paged list, at most `maxItems` of them; `complete` says whether the list ended first.
export async function collect(path, { pageSize = 100, maxItems = 2000, params = {} } = {}) {
  const items = [];
  let cursor = null;
  do {
    const page = await getJson(path, { ...params, limit: pageSize, cursor });
    items.push(...page.items);
    cursor = page.cursor;
  } while (cursor && items.length < maxItems);
  return { items: items.slice(0, maxItems), complete: !cursor && items.length <= maxItems };
}

// A file of the dashboard itself (the model card), relative to the page.
export async function getFile(relativePath, as = "text") {
  const response = await fetch(new URL(relativePath, window.location.href), { cache: "no-cache" });
  if (!response.ok) {
    throw new ApiError(response.status, `${relativePath}: HTTP ${response.status}`);
  }
  return as === "json" ? response.json() : response.text();
}

export const jobPath = (jobId, tail = "") => `/jobs/${encodeURIComponent(jobId)}${tail}`;
