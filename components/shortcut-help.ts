import { LitElement, css, html, nothing } from 'lit';
import { actionFor, SHORTCUTS } from './state/shortcuts.ts';
import { emit } from './events.ts';

/**
 * <inp-shortcut-help>: turns key presses into inp-action events (ignoring keys typed into form fields) and shows
 * every shortcut in an overlay when `open`. The host decides what each action does.
 *
 * @prop {boolean} open - The help sheet is shown (reflected as the open attribute).
 * @fires inp-action - {action}: a key press mapped to its action.
 */
export class ShortcutHelp extends LitElement {
  static override properties = { open: { type: Boolean, reflect: true } };
  static override styles = css`
    :host { position: fixed; inset: 0; display: none; background: #0008; z-index: 50; align-items: center; justify-content: center; font: 13px system-ui, sans-serif; }
    :host([open]) { display: flex; }
    .box { background: #fff; border-radius: 8px; padding: 1rem 1.3rem; max-width: 860px; max-height: 85vh; overflow: auto; columns: 2; column-gap: 2rem; box-shadow: 0 8px 30px #0006; }
    h2 { column-span: all; margin: 0 0 .5rem; font-size: 1.1rem; }
    h3 { font-size: .8rem; text-transform: uppercase; color: #5a6478; margin: .6rem 0 .2rem; break-after: avoid; }
    div.k { display: flex; justify-content: space-between; gap: 1rem; padding: .12rem 0; break-inside: avoid; }
    kbd { font: 11px ui-monospace, monospace; background: #eef0f4; border: 1px solid #c9ced8; border-radius: 3px; padding: 0 .3rem; margin-left: .2rem; white-space: nowrap; }
  `;
  declare open: boolean;

  // Declared, not initialised as class fields: under a consumer's useDefineForClassFields a field would shadow
  // Lit's reactive accessor (setting it would not re-render). Defaults are set here instead.
  constructor() {
    super();
    this.open = false;
  }

  private readonly onKey = (e: KeyboardEvent) => {
    const t = e.composedPath()[0];
    if (t instanceof HTMLInputElement && t.type !== 'range' || t instanceof HTMLTextAreaElement || t instanceof HTMLSelectElement) return;
    const action = actionFor(e);
    if (!action) return;
    e.preventDefault();
    emit(this, 'inp-action', { action });
  };

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('keydown', this.onKey);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('keydown', this.onKey);
  }

  override render() {
    if (!this.open) return nothing;
    const groups = [...new Set(SHORTCUTS.map((s) => s.group))];
    return html`
      <div class="box" role="dialog" aria-label="Keyboard shortcuts" @click=${(e: Event) => e.stopPropagation()}>
        <h2>Keyboard shortcuts</h2>
        ${groups.map((g) => html`<h3>${g}</h3>${SHORTCUTS.filter((s) => s.group === g).map((s) => html`
          <div class="k"><span>${s.label}</span><span>${s.keys.map((k) => html`<kbd>${k}</kbd>`)}</span></div>`)}`)}
      </div>`;
  }
}

if (!customElements.get('inp-shortcut-help')) customElements.define('inp-shortcut-help', ShortcutHelp);

declare global {
  interface HTMLElementTagNameMap { 'inp-shortcut-help': ShortcutHelp }
}
