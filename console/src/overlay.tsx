import { useEffect, useState } from "preact/hooks";
import { errorText, type LabelObject } from "./api";
import { labelColor } from "./colors";
import { thumbnail, type ThumbLink } from "./thumbs";

export const classOf = (object: LabelObject) => object.label_translated ?? object.label;

/**
 * An image with its labels drawn over it: an SVG in the image's own pixel coordinates (viewBox = the image's
 * width and height), stretched over the rendition, so a box at x=13 sits at 13/width of the picture whatever
 * the rendition's size. Boxes and polygons in the label's colour; `ghost` objects (an earlier submission) dashed.
 */
export function LabelOverlay(props: { width: number; height: number; objects: LabelObject[]; hidden?: Set<string>; ghost?: LabelObject[] }) {
  const { width, height, objects, hidden, ghost } = props;
  const shapes = (list: LabelObject[], kind: "current" | "ghost") =>
    list.flatMap((object, index) => {
      const label = classOf(object);
      if (hidden?.has(label)) return [];
      const color = labelColor(label);
      const common = {
        "data-label": label,
        "data-kind": kind,
        stroke: color,
        "stroke-width": kind === "ghost" ? 2 : 2.5,
        "stroke-dasharray": kind === "ghost" ? "6 4" : undefined,
        fill: kind === "ghost" ? "none" : color,
        "fill-opacity": kind === "ghost" ? undefined : 0.12,
        "vector-effect": "non-scaling-stroke",
      };
      const out = [];
      const box = object.bounding_box;
      if (box) {
        out.push(
          <rect key={`${kind}-b${index}`} class="shape box" x={box.xmin} y={box.ymin} width={box.xmax - box.xmin} height={box.ymax - box.ymin} {...common}>
            <title>{label}</title>
          </rect>,
        );
      }
      if (object.polygon?.length) {
        out.push(
          <polygon key={`${kind}-p${index}`} class="shape polygon" points={object.polygon.map(([x, y]) => `${x},${y}`).join(" ")} {...common}>
            <title>{label}</title>
          </polygon>,
        );
      }
      return out;
    });
  return (
    <svg
      class="overlay"
      viewBox={`0 0 ${width} ${height}`}
      preserveAspectRatio="none"
      role="img"
      aria-label={`${objects.length} label${objects.length === 1 ? "" : "s"}`}
    >
      {shapes(ghost ?? [], "ghost")}
      {shapes(objects, "current")}
    </svg>
  );
}

/** A thumbnail (or larger rendition) of an image with its labels, loading its link through the API. */
export function LabeledImage(props: { imageId: number; objects?: LabelObject[]; size?: number; hidden?: Set<string>; ghost?: LabelObject[]; alt?: string }) {
  const { imageId, objects, size = 256, hidden, ghost } = props;
  const [link, setLink] = useState<ThumbLink | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  useEffect(() => {
    let live = true;
    setLink(null);
    setProblem(null);
    setLoaded(false);
    thumbnail(imageId, size).then(
      (l) => live && setLink(l),
      (error) => live && setProblem(errorText(error)),
    );
    return () => {
      live = false;
    };
  }, [imageId, size]);
  if (problem)
    return (
      <div class="labeled missing" role="img" aria-label={`image ${imageId}: ${problem}`}>
        {problem}
      </div>
    );
  if (!link) return <div class="labeled loading" aria-busy="true" aria-label={`image ${imageId} loading`} />;
  return (
    <div
      class={`labeled${loaded ? " loaded" : ""}`}
      data-image-id={imageId}
      data-width={link.image_width}
      data-height={link.image_height}
      style={{ aspectRatio: `${link.image_width} / ${link.image_height}` }}
    >
      <img src={link.data_url ?? link.url} alt={props.alt ?? `image ${imageId}`} decoding="async" onLoad={() => setLoaded(true)} />
      {objects && <LabelOverlay width={link.image_width} height={link.image_height} objects={objects} hidden={hidden} ghost={ghost} />}
    </div>
  );
}

/** Every class on show with its colour; with `onToggle`, a checkbox per class hides or shows it. */
export function Legend(props: { labels: string[]; hidden?: Set<string>; onToggle?: (label: string) => void }) {
  if (!props.labels.length) return <p class="muted">No labels on show.</p>;
  return (
    <ul class="legend" aria-label="Label legend">
      {props.labels.map((label) => (
        <li key={label}>
          <label>
            {props.onToggle && <input type="checkbox" checked={!props.hidden?.has(label)} onChange={() => props.onToggle!(label)} />}
            <span class="swatch" style={{ background: labelColor(label) }} aria-hidden="true" />
            {label}
          </label>
        </li>
      ))}
    </ul>
  );
}

export const labelsOf = (lists: Array<LabelObject[] | undefined>) => [...new Set(lists.flatMap((l) => (l ?? []).map(classOf)))].sort();
