// The live event stream: one WebSocket, reconnected with backoff, resuming
// from the last cursor so nothing is missed and (with the app's keyed
// state) nothing is shown twice.
import { api, ApiError, getToken } from './api.js';
import { backoff } from './util.js';

/** The server's close code for a stream whose session was signed out. */
const SIGNED_OUT = 4001;

export class Stream {
  /**
   * @param {object} hooks
   *   cursor(): string|null, saveCursor(c), onEvent(event), onState('connecting'|'online'|'reconnecting'),
   *   onUnauthorized(), onCursorRejected(): Promise<string>  (a fresh cursor after a reset)
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
    this.everOnline = false;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close();
      this.ws = null;
    }
  }

  connect() {
    if (this.stopped) return;
    this.hooks.onState(this.everOnline ? 'reconnecting' : 'connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const params = new URLSearchParams({ access_token: getToken() || '' });
    const cursor = this.hooks.cursor();
    if (cursor) params.set('since', cursor);
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}/api/v1/stream?${params}`);
    } catch {
      this.retry();
      return;
    }
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempt = 0;
      this.everOnline = true;
      this.hooks.onState('online');
    };
    ws.onmessage = (frame) => {
      let event;
      try {
        event = JSON.parse(frame.data);
      } catch {
        return;
      }
      if (event.type === 'resync') {
        // Too far behind: the server closes; resume from the cursor it names.
        if (typeof event.cursor === 'string') this.hooks.saveCursor(event.cursor);
        return;
      }
      try {
        this.hooks.onEvent(event);
      } finally {
        if (typeof event.cursor === 'string') this.hooks.saveCursor(event.cursor);
      }
    };
    ws.onclose = (close) => {
      if (this.ws === ws) this.ws = null;
      if (this.stopped) return;
      if (close.code === SIGNED_OUT) {
        // This session was signed out (here or elsewhere): retrying cannot help.
        this.stop();
        this.hooks.onUnauthorized();
        return;
      }
      this.hooks.onState('reconnecting');
      if (opened) this.retry(0);
      else this.diagnose();
    };
  }

  retry(delay = backoff(this.attempt++)) {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  /**
   * The upgrade failed: a WebSocket cannot say why, so ask over HTTP.
   * 401 → sign in again; 400 → the cursor is not this server's (its data
   * was reset): start from a fresh one; otherwise wait and try again.
   */
  async diagnose() {
    const cursor = this.hooks.cursor();
    const query = cursor ? `?since=${encodeURIComponent(cursor)}&timeout_ms=0` : '?timeout_ms=0';
    try {
      await api('GET', `/events${query}`, undefined, { quiet401: true });
      this.retry();
    } catch (e) {
      if (this.stopped) return;
      if (e instanceof ApiError && e.status === 401) {
        this.stop();
        this.hooks.onUnauthorized();
      } else if (e instanceof ApiError && e.status === 400 && cursor) {
        try {
          this.hooks.saveCursor(await this.hooks.onCursorRejected());
          this.retry(0);
        } catch {
          this.retry();
        }
      } else {
        this.retry();
      }
    }
  }
}
