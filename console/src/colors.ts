/**
 * A colour per label, the same on every page and every visit: the label's hash picks a hue (golden-angle
 * steps), at a saturation and lightness that read on photos. Hex, so tests and screenshots can compare it.
 */
function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

function hslToHex(h: number, s: number, l: number): string {
  const a = s * Math.min(l, 1 - l);
  const channel = (n: number) => {
    const k = (n + h / 30) % 12;
    const value = l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(value * 255)
      .toString(16)
      .padStart(2, "0");
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}

const cache = new Map<string, string>();

export function labelColor(label: string): string {
  let color = cache.get(label);
  if (!color) {
    color = hslToHex((hash(label) * 137.508) % 360, 0.9, 0.55);
    cache.set(label, color);
  }
  return color;
}
