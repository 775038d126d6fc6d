// Buying from a product card: the Buy button, the wallet picker, the trip to
// the wallet provider's page and back (`/?order=ID`), and each order's status
// as a line in the conversation it was bought from, kept current by the
// buyer's `payment` events. Amounts are the server's integer minor units;
// nothing here does arithmetic on a float.
import { $, h, replace } from './dom.js';
import { t } from './i18n.js';
import { api, ApiError } from './api.js';
import { state } from './state.js';
import { httpUrl, uuid } from './util.js';

/** The most of one product the quantity field allows: the server's default `payments.max_quantity` (it checks its own). */
export const MAX_QUANTITY = 99;

// Learnt from the first quote a server refuses as turned off: no more Buy buttons.
let paymentsOff = false;
// Orders seen this session (placed, returned to, or heard of), by id.
const orders = new Map();
let hooks = { rerender: () => {}, toast: () => {}, error: () => {}, open: () => {} };

export function initPayments(h_) {
  hooks = h_;
}

/** Forgets everything of the account that signs out. */
export function resetPayments() {
  orders.clear();
  paymentsOff = false;
  closePicker();
}

/** The wallet's name in the interface's language, else the server's name, else its id. */
export function walletName(id, serverName) {
  const key = `wallet_${id}`;
  const named = t(key);
  return named !== key ? named : serverName || id;
}

/** The Buy button under a priced product card of a delivered message, or null. */
export function buyButton(message, link, preview) {
  if (paymentsOff || !preview || typeof preview.price !== 'string' || !preview.price) return null;
  if (!Number.isInteger(message.seq) || !Number.isInteger(message.conversation_id)) return null;
  // The server names a card by the link's place in the message's own list.
  const index = Array.isArray(message.links) ? message.links.indexOf(link) : -1;
  if (index < 0) return null;
  const button = h('button.buy', { type: 'button', dataset: { seq: String(message.seq), link: String(index) } }, t('buy'));
  button.addEventListener('click', () => startBuying(button, message.conversation_id, message.seq, index));
  return h('div.card-actions', {}, button);
}

function isTurnedOff(e) {
  return e instanceof ApiError && e.status === 404 && typeof e.problem?.type === 'string' && e.problem.type.endsWith('turned-off');
}

async function startBuying(button, conversationId, seq, linkIndex) {
  button.disabled = true;
  try {
    const quote = await api('GET', `/orders/quote?conversation_id=${conversationId}&seq=${seq}&link_index=${linkIndex}`);
    openPicker({ conversationId, seq, linkIndex, quote, returnFocus: button });
  } catch (e) {
    if (isTurnedOff(e)) {
      paymentsOff = true;
      hooks.toast(t('paymentsOff'));
      hooks.rerender();
    } else if (!(e instanceof ApiError && e.status === 401)) {
      hooks.toast(e instanceof ApiError && e.status === 0 ? t('errNetwork') : t('buyRefused', { detail: e.message }));
    }
  } finally {
    button.disabled = false;
  }
}

// ---- the picker ---------------------------------------------------------------

let picker = null;

function closePicker() {
  if (!picker) return;
  const { dialog, returnFocus } = picker;
  picker = null;
  if (dialog.open) dialog.close();
  dialog.remove();
  if (returnFocus?.isConnected) returnFocus.focus();
}

/** The number of decimals the server shows for this price (`199.00 CNY` → 2, `500 JPY` → 0). */
function decimalsOf(price) {
  const m = /^\d+(?:\.(\d+))? /.exec(String(price?.display || ''));
  return m ? (m[1] || '').length : 0;
}

/** `minor` (an integer) in the price's decimals and currency, without floats. */
function formatMinor(minor, price) {
  const d = decimalsOf(price);
  const digits = String(minor).padStart(d + 1, '0');
  const whole = d ? `${digits.slice(0, -d)}.${digits.slice(-d)}` : digits;
  return `${whole} ${price.currency}`;
}

function quantityOf(input) {
  const text = input.value.trim();
  if (!/^\d{1,3}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= MAX_QUANTITY ? n : null;
}

function openPicker({ conversationId, seq, linkIndex, quote, returnFocus }) {
  closePicker();
  const price = quote.unit_price || {};
  const wallets = Array.isArray(quote.wallets) ? quote.wallets : [];
  // One key per attempt (these parameters): a retry after a lost answer reuses it, so the server
  // answers with the first order instead of making a second one.
  const keys = new Map();
  const error = h('p.picker-error', { role: 'alert' });
  const total = h('p.picker-total', { 'aria-live': 'polite' });
  const status = h('p.picker-status', { role: 'status' });
  const quantity = h('input', { id: 'picker-quantity', type: 'number', min: '1', max: String(MAX_QUANTITY), step: '1', value: '1', inputmode: 'numeric', required: true });
  const showTotal = () => {
    const n = quantityOf(quantity);
    total.textContent = n && Number.isInteger(price.amount_minor) ? t('buyTotal', { amount: formatMinor(price.amount_minor * n, price) }) : '';
  };
  quantity.addEventListener('input', () => {
    error.textContent = '';
    showTotal();
  });
  const buttons = wallets.map((w) =>
    h('button.wallet', { type: 'button', dataset: { wallet: String(w.id) } }, walletName(String(w.id), String(w.name || ''))),
  );
  const choose = async (w, button) => {
    const n = quantityOf(quantity);
    if (!n) {
      error.textContent = t('buyQuantityRange', { max: MAX_QUANTITY });
      quantity.focus();
      return;
    }
    const attempt = `${w.id}\n${n}`;
    if (!keys.has(attempt)) keys.set(attempt, uuid());
    for (const b of buttons) b.disabled = true;
    error.textContent = '';
    status.textContent = t('buyOpening', { wallet: button.textContent });
    try {
      const placed = await api('POST', '/orders', { conversation_id: conversationId, seq, link_index: linkIndex, quantity: n, wallet: w.id }, { headers: { 'Idempotency-Key': keys.get(attempt) } });
      showOrder(placed.order);
      const payUrl = httpUrl(placed.pay_url);
      if (payUrl) {
        // The provider's page sends the buyer back to /?order=ID.
        location.assign(payUrl);
        return;
      }
      // The provider did not answer in time: the order waits; the status line can ask again.
      closePicker();
      hooks.toast(t('buyNoAnswer', { id: placed.order?.id }));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      status.textContent = '';
      error.textContent = e instanceof ApiError && e.status === 0 ? t('errNetwork') : e.message;
      for (const b of buttons) b.disabled = false;
    }
  };
  wallets.forEach((w, i) => buttons[i].addEventListener('click', () => choose(w, buttons[i])));
  const dialog = h(
    'dialog.picker',
    { 'aria-labelledby': 'picker-title' },
    h('h2', { id: 'picker-title' }, t('buyTitle')),
    h('p.picker-product', {}, String(quote.title || '')),
    h('p.picker-price', {}, t('buyUnitPrice', { amount: String(price.display || '') })),
    h('label.field', {}, h('span', {}, t('buyQuantity')), quantity),
    total,
    h('p.picker-label', { id: 'picker-wallets-label' }, wallets.length ? t('buyPickWallet') : t('buyNoWallet')),
    h('div.picker-wallets', { role: 'group', 'aria-labelledby': 'picker-wallets-label' }, buttons),
    status,
    error,
    h('button.cancel', { type: 'button', onclick: closePicker }, t('cancel')),
  );
  dialog.addEventListener('close', () => picker?.dialog === dialog && closePicker());
  // Esc closes the picker only, not the panels behind it as well (keys.js skips handled keys).
  dialog.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    e.preventDefault();
    closePicker();
  });
  picker = { dialog, returnFocus };
  document.body.append(dialog);
  showTotal();
  dialog.showModal();
  (buttons[0] || quantity).focus();
}

// ---- orders in the chat -------------------------------------------------------

const STATE_KEYS = {
  created: 'order_created',
  pending: 'order_pending',
  paid: 'order_paid',
  partially_refunded: 'order_partially_refunded',
  refunded: 'order_refunded',
  failed: 'order_failed',
  cancelled: 'order_cancelled',
  expired: 'order_expired',
};

function orderText(o) {
  const vars = { id: o.id, amount: String(o.amount?.display || ''), wallet: walletName(String(o.wallet || '')) };
  return t(STATE_KEYS[o.state] || 'order_other', { ...vars, state: String(o.state || '') });
}

/**
 * Records an order as the server showed it (an answer or a `payment` event)
 * and redraws its conversation's status lines. An older view never replaces
 * a newer one, whichever arrives last.
 */
export function showOrder(o) {
  if (!o || !Number.isInteger(o.id)) return;
  const known = orders.get(o.id);
  if (known && Number(known.updated_at) > Number(o.updated_at)) return;
  orders.set(o.id, o);
  renderOrders();
}

/** A `payment` event: the line in its conversation, and a toast when another one is open. */
export function paymentEvent(event) {
  const o = event.order;
  if (!o || !Number.isInteger(o.id)) return;
  const before = orders.get(o.id)?.state;
  showOrder(o);
  if (before !== o.state && event.conversation_id !== state.current) hooks.toast(orderText(o));
}

/** The status lines of the open conversation's orders, newest last. */
export function renderOrders() {
  const list = $('#order-status');
  if (!list) return;
  const mine = [...orders.values()].filter((o) => o.conversation_id === state.current).sort((a, b) => a.id - b.id);
  list.hidden = mine.length === 0;
  replace(
    list,
    mine.map((o) =>
      h(
        'li.order',
        { dataset: { order: String(o.id), state: String(o.state) } },
        h('span.order-text', {}, orderText(o)),
        o.state === 'pending' || o.state === 'created'
          ? h('button.order-check', { type: 'button', onclick: (e) => checkOrder(o.id, e.currentTarget) }, t('orderCheck'))
          : null,
      ),
    ),
  );
}

/** Asks the server to ask the provider what became of the order. */
async function checkOrder(id, button) {
  if (button) button.disabled = true;
  try {
    showOrder(await api('POST', `/orders/${id}/query`));
  } catch (e) {
    hooks.error(e);
    if (button?.isConnected) button.disabled = false;
  }
}

/**
 * Back from the provider's page (`/?order=ID`): asks what became of the
 * order, shows it in its conversation and takes the parameter off the
 * address. Called once signed in, so a buyer who had to sign in again keeps it.
 */
export async function returnedFromProvider() {
  const raw = new URLSearchParams(location.search).get('order');
  if (raw === null) return;
  const id = /^\d{1,18}$/.test(raw) ? Number(raw) : NaN;
  const done = () => history.replaceState(null, '', `/${location.hash}`);
  if (!Number.isSafeInteger(id)) {
    done();
    hooks.toast(t('orderBadReturn'));
    return;
  }
  let order;
  try {
    order = await api('POST', `/orders/${id}/query`);
  } catch (e) {
    // Signed out meanwhile: the parameter stays for after the next sign-in.
    if (e instanceof ApiError && e.status === 401) return;
    // The provider may be slow; what the server already knows is still worth showing.
    try {
      order = await api('GET', `/orders/${id}`);
    } catch (e2) {
      done();
      hooks.error(e2);
      return;
    }
    hooks.toast(t('orderQueryFailed', { detail: e.message }));
  }
  done();
  showOrder(order);
  if (Number.isInteger(order.conversation_id) && state.convs.has(order.conversation_id)) hooks.open(order.conversation_id);
  else hooks.toast(orderText(order));
}
