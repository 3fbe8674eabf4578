// Draws a graph from `GET /assistants/{id}/graph` ({nodes, edges}) as SVG, top to bottom.
//
// A small layered (Sugiyama-style) layout, written here because the console takes no
// third-party JavaScript and LangGraph graphs are small (tens of nodes): cycles are broken by
// reversing DFS back edges, layers are longest paths from the start, edges that skip layers get
// invisible waypoints, nodes in a layer are ordered by the barycenter of their neighbours, and
// x positions are relaxed toward the neighbours' then pushed apart.

const SVG = "http://www.w3.org/2000/svg";
const NODE_H = 34;
const LAYER_GAP = 52;
const NODE_GAP = 28;
const PAD = 16;
const FONT = "13px system-ui, sans-serif";

function s(tag, attrs = {}, text) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) element.setAttribute(name, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

let measurer;
function textWidth(text) {
  measurer = measurer || document.createElement("canvas").getContext("2d");
  measurer.font = FONT;
  return measurer.measureText(text).width;
}

const label = (node) => (node.id === "__start__" ? "start" : node.id === "__end__" ? "end" : node.data?.name || node.id);

/** Split edges into forward ones and back ones (those closing a cycle, found by DFS). */
function breakCycles(ids, edges) {
  const out = new Map(ids.map((id) => [id, []]));
  edges.forEach((edge, index) => out.get(edge.source)?.push([edge.target, index]));
  const state = new Map(); // 1 on the stack, 2 done
  const back = new Set();
  const visit = (id) => {
    state.set(id, 1);
    for (const [target, index] of out.get(id) || []) {
      if (state.get(target) === 1) back.add(index);
      else if (!state.has(target)) visit(target);
    }
    state.set(id, 2);
  };
  if (out.has("__start__")) visit("__start__");
  ids.forEach((id) => state.has(id) || visit(id));
  return back;
}

/** Longest-path layers over the forward edges; `__end__` goes to the last layer. */
function assignLayers(ids, forward) {
  const layer = new Map(ids.map((id) => [id, 0]));
  for (let round = 0; round < ids.length; round++) {
    let changed = false;
    for (const [source, target] of forward) {
      if (layer.get(target) < layer.get(source) + 1) {
        layer.set(target, layer.get(source) + 1);
        changed = true;
      }
    }
    if (!changed) break;
  }
  if (layer.has("__end__")) layer.set("__end__", Math.max(0, ...layer.values(), layer.get("__end__")));
  return layer;
}

export function layout(graph) {
  const nodes = graph.nodes || [];
  const ids = nodes.map((n) => n.id);
  const known = new Set(ids);
  const edges = (graph.edges || []).filter((e) => known.has(e.source) && known.has(e.target));
  const back = breakCycles(ids, edges);
  const forward = edges.map((e, i) => (back.has(i) ? [e.target, e.source] : [e.source, e.target]));
  const layerOf = assignLayers(ids, forward);

  // Waypoints: an edge spanning k layers gets k-1 virtual nodes, so ordering sees it.
  const vertices = new Map(nodes.map((n) => [n.id, { id: n.id, node: n, layer: layerOf.get(n.id), width: textWidth(label(n)) + 28 }]));
  // Back edges are drawn around the side (see drawGraph) and take no part in the ordering.
  const routes = edges.map((edge, index) => {
    if (back.has(index)) return { edge, chain: [edge.source, edge.target], back: true };
    const chain = [edge.source];
    for (let l = layerOf.get(edge.source) + 1; l < layerOf.get(edge.target); l++) {
      const id = `\u0000${index}:${l}`;
      vertices.set(id, { id, layer: l, width: 8, virtual: true });
      chain.push(id);
    }
    chain.push(edge.target);
    return { edge, chain, back: false };
  });
  const up = new Map([...vertices.keys()].map((id) => [id, []]));
  const down = new Map([...vertices.keys()].map((id) => [id, []]));
  for (const { chain, back: isBack } of routes) {
    if (isBack) continue;
    for (let i = 1; i < chain.length; i++) {
      if (chain[i - 1] === chain[i]) continue;
      down.get(chain[i - 1]).push(chain[i]);
      up.get(chain[i]).push(chain[i - 1]);
    }
  }

  const layers = [];
  for (const vertex of vertices.values()) (layers[vertex.layer] ||= []).push(vertex);
  const position = new Map();
  const renumber = () => layers.forEach((row) => row.forEach((v, i) => position.set(v.id, i)));
  renumber();
  const barycenter = (id, neighbours) => {
    const list = neighbours.get(id);
    return list.length ? list.reduce((sum, n) => sum + position.get(n), 0) / list.length : position.get(id);
  };
  for (let sweep = 0; sweep < 4; sweep++) {
    const downward = sweep % 2 === 0;
    const order = downward ? layers.keys() : [...layers.keys()].reverse();
    for (const l of order) {
      const row = layers[l] || [];
      const keys = new Map(row.map((v) => [v.id, barycenter(v.id, downward ? up : down)]));
      row.sort((a, b) => keys.get(a.id) - keys.get(b.id));
      renumber();
    }
  }

  // x: pack each layer, then alternate sweeps down (toward parents) and up (toward children),
  // each followed by a balanced separation, ending on an up sweep: parents sit over children.
  const x = new Map();
  for (const row of layers) {
    let cursor = 0;
    for (const v of row || []) {
      x.set(v.id, cursor + v.width / 2);
      cursor += v.width + NODE_GAP;
    }
  }
  const gap = (a, b) => (a.width + b.width) / 2 + NODE_GAP;
  const separate = (row) => {
    // Push right from the left, push left from the right, and take the mean of both: overlaps
    // are resolved symmetrically, and the mean of two valid placements is a valid placement.
    const right = row.map((v) => x.get(v.id));
    for (let i = 1; i < row.length; i++) right[i] = Math.max(right[i], right[i - 1] + gap(row[i - 1], row[i]));
    const left = row.map((v) => x.get(v.id));
    for (let i = row.length - 2; i >= 0; i--) left[i] = Math.min(left[i], left[i + 1] - gap(row[i], row[i + 1]));
    row.forEach((v, i) => x.set(v.id, (right[i] + left[i]) / 2));
  };
  for (let round = 0; round < 6; round++) {
    const downward = round % 2 === 0;
    const order = downward ? [...layers.keys()] : [...layers.keys()].reverse();
    for (const l of order) {
      const row = layers[l] || [];
      for (const v of row) {
        const around = (downward ? up : down).get(v.id);
        if (around.length) x.set(v.id, around.reduce((sum, n) => sum + x.get(n), 0) / around.length);
      }
      separate(row);
    }
  }
  const minX = Math.min(...[...vertices.values()].map((v) => x.get(v.id) - v.width / 2));
  for (const v of vertices.values()) {
    v.x = x.get(v.id) - minX + PAD;
    v.y = PAD + v.layer * (NODE_H + LAYER_GAP) + NODE_H / 2;
  }
  // Back edges run in lanes right of everything in the layers they span, one lane each.
  let lane = 0;
  for (const route of routes) {
    if (!route.back) continue;
    const [low, high] = [vertices.get(route.edge.target).layer, vertices.get(route.edge.source).layer].sort((a, b) => a - b);
    const spanned = [...vertices.values()].filter((v) => v.layer >= low && v.layer <= high);
    route.lane = Math.max(...spanned.map((v) => v.x + v.width / 2)) + 18 + 10 * lane++;
  }
  const right = Math.max(...[...vertices.values()].map((v) => v.x + v.width / 2), ...routes.map((r) => r.lane || 0));
  const width = right + PAD + 8;
  // Room below the last layer for a back edge that leaves through the gap under its source.
  const below = lane ? LAYER_GAP / 2 : 0;
  const height = PAD * 2 + layers.length * NODE_H + Math.max(0, layers.length - 1) * LAYER_GAP + below;
  return { vertices, routes, width, height };
}

/** A polyline of horizontal and vertical segments, its corners rounded. */
function rounded(points, radius = 8) {
  let d = `M ${points[0].x} ${points[0].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const [a, b, c] = [points[i - 1], points[i], points[i + 1]];
    const r = Math.min(radius, Math.hypot(b.x - a.x, b.y - a.y) / 2, Math.hypot(c.x - b.x, c.y - b.y) / 2);
    const into = { x: b.x - Math.sign(b.x - a.x) * r, y: b.y - Math.sign(b.y - a.y) * r };
    const out = { x: b.x + Math.sign(c.x - b.x) * r, y: b.y + Math.sign(c.y - b.y) * r };
    d += ` L ${into.x} ${into.y} Q ${b.x} ${b.y} ${out.x} ${out.y}`;
  }
  const last = points[points.length - 1];
  return `${d} L ${last.x} ${last.y}`;
}

/**
 * A back edge (or a self loop), up its lane right of the layers it spans. It leaves and enters
 * through a node's right side when nothing stands right of the node in its layer, else through
 * the gap between layers, so that it crosses no node.
 */
function backPath(source, target, lane, rightmost) {
  const sx = source.x + source.width / 2;
  const tx = target.x + target.width / 2;
  if (source === target) return `M ${sx} ${source.y - 6} C ${sx + 28} ${source.y - 22}, ${sx + 28} ${source.y + 22}, ${sx} ${source.y + 6}`;
  const points = [];
  if (rightmost(source)) points.push({ x: sx, y: source.y }, { x: lane, y: source.y });
  else {
    const gap = source.y + NODE_H / 2 + LAYER_GAP / 2;
    points.push({ x: source.x + source.width / 4, y: source.y + NODE_H / 2 }, { x: source.x + source.width / 4, y: gap }, { x: lane, y: gap });
  }
  if (rightmost(target)) points.push({ x: lane, y: target.y }, { x: tx, y: target.y });
  else {
    const gap = target.y - NODE_H / 2 - LAYER_GAP / 2;
    points.push({ x: lane, y: gap }, { x: target.x + target.width / 4, y: gap }, { x: target.x + target.width / 4, y: target.y - NODE_H / 2 });
  }
  return rounded(points);
}

function edgePath(points) {
  let d = `M ${points[0].x} ${points[0].y}`;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    const mid = (a.y + b.y) / 2;
    d += ` C ${a.x} ${mid}, ${b.x} ${mid}, ${b.x} ${b.y}`;
  }
  return d;
}

/** The SVG element of `graph`, titled `title`; nodes are listed in its description for screen readers. */
export function drawGraph(graph, title) {
  const { vertices, routes, width, height } = layout(graph);
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-labelledby": "graph-svg-title graph-svg-desc", class: "graph-svg" });
  svg.append(s("title", { id: "graph-svg-title" }, title));
  const described = routes.map(({ edge }) => `${label(vertices.get(edge.source).node)} to ${label(vertices.get(edge.target).node)}${edge.conditional ? " (conditional)" : ""}`);
  svg.append(s("desc", { id: "graph-svg-desc" }, `Edges: ${described.join("; ")}.`));
  const defs = s("defs");
  const marker = s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "g-arrow" }));
  defs.append(marker);
  svg.append(defs);

  const rightmost = (v) => ![...vertices.values()].some((o) => !o.virtual && o.layer === v.layer && o.x > v.x);
  const edgeLayer = s("g", { class: "g-edges" });
  for (const { edge, chain, back, lane } of routes) {
    const source = vertices.get(edge.source);
    const target = vertices.get(edge.target);
    let d;
    if (back) {
      d = backPath(source, target, lane, rightmost);
    } else {
      const points = chain.map((id) => ({ x: vertices.get(id).x, y: vertices.get(id).y }));
      points[0] = { x: source.x, y: source.y + NODE_H / 2 };
      points[points.length - 1] = { x: target.x, y: target.y - NODE_H / 2 };
      d = edgePath(points);
    }
    edgeLayer.append(s("path", { d, class: edge.conditional ? "g-edge conditional" : "g-edge", "marker-end": "url(#arrow)" }));
  }
  svg.append(edgeLayer);

  const nodeLayer = s("g", { class: "g-nodes" });
  for (const v of vertices.values()) {
    if (v.virtual) continue;
    const terminal = v.id === "__start__" || v.id === "__end__";
    const group = s("g", { class: terminal ? "g-node terminal" : "g-node" });
    group.append(s("rect", { x: v.x - v.width / 2, y: v.y - NODE_H / 2, width: v.width, height: NODE_H, rx: terminal ? NODE_H / 2 : 6 }));
    group.append(s("text", { x: v.x, y: v.y, "text-anchor": "middle", "dominant-baseline": "central" }, label(v.node)));
    nodeLayer.append(group);
  }
  svg.append(nodeLayer);
  return svg;
}
