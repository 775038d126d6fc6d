// What the client keeps in localStorage. Per-user keys so that two
// accounts on one browser never see each other's drafts or cursors.
const PREFIX = 'kaifang:';

function read(key, fallback) {
  try {
    const raw = localStorage.getItem(PREFIX + key);
    return raw === null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

function write(key, value) {
  try {
    if (value === undefined || value === null) localStorage.removeItem(PREFIX + key);
    else localStorage.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // Storage full or disabled: the client still works, it just forgets.
  }
}

export const session = {
  get: () => read('session', null),
  set: (s) => write('session', s),
  clear: () => write('session', null),
};

export const lang = {
  get: () => read('lang', null),
  set: (l) => write('lang', l),
};

/** Storage scoped to one handle. */
export function userStore(handle) {
  const k = (name) => `u:${handle}:${name}`;
  return {
    cursor: () => read(k('cursor'), null),
    setCursor: (c) => write(k('cursor'), c),
    draft: (id) => read(k(`draft:${id}`), ''),
    setDraft: (id, text) => write(k(`draft:${id}`), text ? text : null),
  };
}

/**
 * Removes everything kept for `handle` (drafts, cursor): called at sign-out
 * so that the next person on this browser finds none of it in storage.
 */
export function forgetUser(handle) {
  const prefix = `${PREFIX}u:${handle}:`;
  try {
    const keys = [];
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key?.startsWith(prefix)) keys.push(key);
    }
    for (const key of keys) localStorage.removeItem(key);
  } catch {
    // Storage disabled: nothing was kept.
  }
}
