// Inline SVG icons (decorative: aria-hidden; the control carries the name).
const P = { width: 16, height: 16, viewBox: '0 0 24 24', fill: 'none', stroke: 'currentColor', 'stroke-width': 2, 'stroke-linecap': 'round' as const, 'stroke-linejoin': 'round' as const, 'aria-hidden': 'true' as const, focusable: 'false' as const };

export const IconRepeat = () => (
  <svg {...P}><path d="M17 2l4 4-4 4" /><path d="M3 11v-1a4 4 0 014-4h14" /><path d="M7 22l-4-4 4-4" /><path d="M21 13v1a4 4 0 01-4 4H3" /></svg>
);
export const IconBell = () => (
  <svg {...P}><path d="M18 8a6 6 0 00-12 0c0 7-3 9-3 9h18s-3-2-3-9" /><path d="M13.7 21a2 2 0 01-3.4 0" /></svg>
);
export const IconSearch = () => (
  <svg {...P}><circle cx="11" cy="11" r="7" /><path d="M21 21l-4.3-4.3" /></svg>
);
export const IconPlus = () => (
  <svg {...P}><path d="M12 5v14M5 12h14" /></svg>
);
export const IconMenu = () => (
  <svg {...P}><path d="M3 6h18M3 12h18M3 18h18" /></svg>
);
export const IconChat = () => (
  <svg {...P}><path d="M21 15a2 2 0 01-2 2H7l-4 4V5a2 2 0 012-2h14a2 2 0 012 2z" /></svg>
);
export const IconClock = () => (
  <svg {...P}><circle cx="12" cy="12" r="9" /><path d="M12 7v5l3 3" /></svg>
);
