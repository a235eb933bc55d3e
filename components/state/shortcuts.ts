/**
 * Every workspace action and its keys, in one table: the key handler and the help overlay both read it, so the
 * overlay can never list a shortcut that does not work.
 */
export type Action =
  | 'next-image' | 'prev-image' | 'next-unreviewed' | 'next-proposal' | 'prev-proposal'
  | 'accept' | 'reject' | 'accept-all' | 'edit' | 'delete-region' | 'remove-image'
  | 'mark-normal' | 'mark-defective'
  | 'tool-select' | 'tool-brush' | 'tool-eraser' | 'tool-polygon-add' | 'tool-polygon-subtract' | 'brush-bigger' | 'brush-smaller'
  | 'toggle-heatmap' | 'toggle-fill' | 'opacity-up' | 'opacity-down' | 'sensitivity-up' | 'sensitivity-down'
  | 'undo' | 'redo' | 'zoom-fit' | 'help' | 'escape'
  /** Not on a key: a click in the image list (with the image id). */
  | 'open-image';

export interface Shortcut { action: Action; keys: string[]; label: string; group: 'Navigate' | 'Review' | 'Edit' | 'View' }

/** Keys as `[Ctrl+][Shift+]key`, key being KeyboardEvent.key (lower-cased letters). */
export const SHORTCUTS: readonly Shortcut[] = [
  { action: 'next-image', keys: ['ArrowRight', 'n'], label: 'Next image (in the list as shown: sort and filter)', group: 'Navigate' },
  { action: 'prev-image', keys: ['ArrowLeft', 'p'], label: 'Previous image', group: 'Navigate' },
  { action: 'next-unreviewed', keys: ['u'], label: 'Next unreviewed image (in the list as shown)', group: 'Navigate' },
  { action: 'next-proposal', keys: ['ArrowDown', 'Tab'], label: 'Next proposal', group: 'Navigate' },
  { action: 'prev-proposal', keys: ['ArrowUp', 'Shift+Tab'], label: 'Previous proposal', group: 'Navigate' },
  { action: 'accept', keys: ['a', 'Enter'], label: 'Accept the selected proposal', group: 'Review' },
  { action: 'reject', keys: ['r', 'x'], label: 'Reject the selected proposal', group: 'Review' },
  { action: 'accept-all', keys: ['Shift+A'], label: 'Accept every proposal of this image', group: 'Review' },
  { action: 'edit', keys: ['e'], label: 'Edit the selected proposal (accepts it, brush on)', group: 'Review' },
  { action: 'delete-region', keys: ['Delete', 'Backspace'], label: 'Delete the selected region', group: 'Review' },
  { action: 'remove-image', keys: ['Shift+Delete'], label: 'Remove the image from the session', group: 'Review' },
  { action: 'mark-normal', keys: ['g'], label: 'Mark image normal (good)', group: 'Review' },
  { action: 'mark-defective', keys: ['d'], label: 'Mark image defective', group: 'Review' },
  { action: 'tool-select', keys: ['v'], label: 'Select tool', group: 'Edit' },
  { action: 'tool-brush', keys: ['b'], label: 'Brush (add to the region)', group: 'Edit' },
  { action: 'tool-eraser', keys: ['Shift+E'], label: 'Eraser', group: 'Edit' },
  { action: 'tool-polygon-add', keys: ['o'], label: 'Polygon add (click points, Enter or double-click closes)', group: 'Edit' },
  { action: 'tool-polygon-subtract', keys: ['Shift+O'], label: 'Polygon subtract', group: 'Edit' },
  { action: 'brush-bigger', keys: [']'], label: 'Bigger brush', group: 'Edit' },
  { action: 'brush-smaller', keys: ['['], label: 'Smaller brush', group: 'Edit' },
  { action: 'undo', keys: ['Ctrl+z'], label: 'Undo', group: 'Edit' },
  { action: 'redo', keys: ['Ctrl+Shift+Z', 'Ctrl+y'], label: 'Redo', group: 'Edit' },
  { action: 'toggle-heatmap', keys: ['h'], label: 'Show / hide the heat map', group: 'View' },
  { action: 'toggle-fill', keys: ['m'], label: 'Fill the masks / outlines only', group: 'View' },
  { action: 'opacity-up', keys: ['.'], label: 'Heat map more opaque', group: 'View' },
  { action: 'opacity-down', keys: [','], label: 'Heat map more transparent', group: 'View' },
  { action: 'sensitivity-up', keys: ['='], label: 'Raise the sensitivity (more, larger masks)', group: 'View' },
  { action: 'sensitivity-down', keys: ['-'], label: 'Lower the sensitivity (fewer, smaller masks)', group: 'View' },
  { action: 'zoom-fit', keys: ['f', '0'], label: 'Fit image (wheel zooms, Space/middle-drag pans)', group: 'View' },
  { action: 'help', keys: ['?'], label: 'This help', group: 'View' },
  { action: 'escape', keys: ['Escape'], label: 'Close help / cancel polygon / deselect (the next stroke draws a new region)', group: 'View' },
];

/** The key chord of an event in SHORTCUTS' notation. Shift is implied by '?' and other shifted symbols. */
export function chordOf(e: { key: string; ctrlKey: boolean; metaKey: boolean; shiftKey: boolean }): string {
  const letter = /^[a-z]$/i.test(e.key);
  const named = e.key.length > 1;
  const key = letter ? e.key.toLowerCase() : e.key;
  const shift = e.shiftKey && (letter || named) ? 'Shift+' : '';
  const k = shift && letter ? key.toUpperCase() : key;
  return `${e.ctrlKey || e.metaKey ? 'Ctrl+' : ''}${shift}${k}`;
}

export function actionFor(e: { key: string; ctrlKey: boolean; metaKey: boolean; shiftKey: boolean }): Action | undefined {
  const chord = chordOf(e);
  return SHORTCUTS.find((s) => s.keys.includes(chord))?.action;
}
