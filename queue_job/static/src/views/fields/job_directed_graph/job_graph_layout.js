/**
 * Layered drawing of a graph of jobs, from left to right: a job's column is
 * always right of its parents' columns, so that every arrow points right.
 *
 * 1. Columns: longest path from the sources (a job sits one column right of
 *    its furthest parent); a source is then moved next to its nearest child,
 *    so that a job started late in a graph does not draw a long arrow.
 * 2. An arrow spanning several columns gets a virtual vertex in each column
 *    it crosses: the ordering then sees it, and its line goes round the jobs.
 * 3. Order within a column: barycenter sweeps to the right and to the left,
 *    keeping the order with the fewest crossings.
 * 4. Heights: each vertex is pulled toward its neighbours' mean height, the
 *    column keeping its order and a minimal spacing.
 *
 * Pure functions without DOM, so that the widget only has to draw.
 */

export const NODE_WIDTH = 184;
export const NODE_HEIGHT = 40;
const COLUMN_GAP = 72;
const ROW_GAP = 14;
const VIRTUAL_HEIGHT = 6;
const VIRTUAL_GAP = 6;
export const MARGIN = 20;
const ORDER_SWEEPS = 12;
const PLACEMENT_ROUNDS = 4;
// Horizontal reach of a curve's control points: arrows leave and enter a job flat.
const CURVE_REACH = 36;

/**
 * @param {Array<number|string>} nodeIds ids of the jobs, in the server's order
 * @param {Array<Array<number|string>>} edgePairs [parent id, child id] pairs
 * @returns {{nodes: Array<{id, x: number, y: number, column: number}>,
 *            edges: Array<{from, to, path: string}>,
 *            width: number, height: number, crossings: number}}
 */
export function layoutGraph(nodeIds, edgePairs) {
    const count = nodeIds.length;
    const indexOf = new Map(nodeIds.map((id, index) => [id, index]));
    const parents = nodeIds.map(() => []);
    const children = nodeIds.map(() => []);
    const edges = [];
    const seen = new Set();
    for (const pair of edgePairs || []) {
        const from = indexOf.get(pair[0]);
        const to = indexOf.get(pair[1]);
        const key = `${from}>${to}`;
        if (from === undefined || to === undefined || from === to || seen.has(key)) {
            continue;
        }
        seen.add(key);
        parents[to].push(from);
        children[from].push(to);
        edges.push([from, to]);
    }
    // Children in the order of the ids given: jobs created first come first.
    edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const layer = assignColumns(count, parents, children);

    // Vertices 0..count-1 are the jobs, the others virtual vertices of long arrows.
    const column = layer.slice();
    const up = nodeIds.map(() => []);
    const down = nodeIds.map(() => []);
    const link = (u, w) => {
        down[u].push(w);
        up[w].push(u);
    };
    const routes = edges.map(([from, to]) => {
        const route = [from];
        if (layer[from] < layer[to]) {
            let previous = from;
            for (let c = layer[from] + 1; c < layer[to]; c++) {
                const virtual = column.length;
                column.push(c);
                up.push([]);
                down.push([]);
                link(previous, virtual);
                route.push(virtual);
                previous = virtual;
            }
            link(previous, to);
        }
        route.push(to);
        return route;
    });

    const columns = orderColumns(initialColumns(count, column, up, down), up, down);
    const isVirtual = (v) => v >= count;
    const centers = placeVertically(columns, up, down, isVirtual);

    let top = Infinity;
    let bottom = -Infinity;
    for (let v = 0; v < column.length; v++) {
        const half = (isVirtual(v) ? VIRTUAL_HEIGHT : NODE_HEIGHT) / 2;
        top = Math.min(top, centers[v] - half);
        bottom = Math.max(bottom, centers[v] + half);
    }
    if (!column.length) {
        top = bottom = 0;
    }
    const columnX = (c) => MARGIN + c * (NODE_WIDTH + COLUMN_GAP);
    const centerY = (v) => MARGIN + centers[v] - top;

    const nodes = nodeIds.map((id, v) => ({
        id,
        column: column[v],
        x: columnX(column[v]),
        y: centerY(v) - NODE_HEIGHT / 2,
    }));
    const edgeShapes = routes.map((route) => ({
        from: nodeIds[route[0]],
        to: nodeIds[route[route.length - 1]],
        path: routePath(route, column, columnX, centerY),
    }));
    return {
        nodes,
        edges: edgeShapes,
        width: columns.length ? columnX(columns.length - 1) + NODE_WIDTH + MARGIN : 2 * MARGIN,
        height: bottom - top + 2 * MARGIN,
        crossings: countCrossings(columns, down),
    };
}

function assignColumns(count, parents, children) {
    const layer = new Array(count).fill(0);
    const waiting = parents.map((list) => list.length);
    const settled = new Array(count).fill(false);
    const queue = [];
    for (let v = 0; v < count; v++) {
        if (!waiting[v]) {
            queue.push(v);
        }
    }
    let head = 0;
    for (;;) {
        while (head < queue.length) {
            const v = queue[head++];
            settled[v] = true;
            for (const child of children[v]) {
                if (settled[child]) {
                    continue;
                }
                layer[child] = Math.max(layer[child], layer[v] + 1);
                if (--waiting[child] === 0) {
                    queue.push(child);
                }
            }
        }
        // queue_job never stores a cycle, but the field is only JSON: break
        // one at its first vertex rather than leave jobs out of the drawing.
        const left = settled.indexOf(false);
        if (left < 0) {
            break;
        }
        waiting[left] = 0;
        queue.push(left);
    }
    for (let v = 0; v < count; v++) {
        if (!parents[v].length && children[v].length) {
            layer[v] = Math.min(...children[v].map((child) => layer[child])) - 1;
        }
    }
    return layer;
}

function initialColumns(count, column, up, down) {
    let columnCount = 0;
    for (const c of column) {
        columnCount = Math.max(columnCount, c + 1);
    }
    const columns = Array.from({ length: columnCount }, () => []);
    const visited = new Uint8Array(column.length);
    // Depth first from each source, so that the jobs of one chain start on one row.
    const visit = (start) => {
        const stack = [start];
        while (stack.length) {
            const v = stack.pop();
            if (visited[v]) {
                continue;
            }
            visited[v] = 1;
            columns[column[v]].push(v);
            for (let i = down[v].length - 1; i >= 0; i--) {
                stack.push(down[v][i]);
            }
        }
    };
    for (let v = 0; v < count; v++) {
        if (!up[v].length) {
            visit(v);
        }
    }
    for (let v = 0; v < column.length; v++) {
        visit(v);
    }
    return columns;
}

function orderColumns(columns, up, down) {
    const position = new Map();
    const remember = (list) => list.forEach((v, index) => position.set(v, index));
    columns.forEach(remember);
    let best = columns.map((list) => list.slice());
    let fewest = countCrossings(columns, down);
    for (let sweep = 0; sweep < ORDER_SWEEPS && fewest > 0; sweep++) {
        const rightward = sweep % 2 === 0;
        const neighbours = rightward ? up : down;
        for (let step = 1; step < columns.length; step++) {
            const c = rightward ? step : columns.length - 1 - step;
            const barycenter = new Map();
            for (const v of columns[c]) {
                const around = neighbours[v];
                barycenter.set(
                    v,
                    around.length
                        ? around.reduce((sum, u) => sum + position.get(u), 0) / around.length
                        : position.get(v)
                );
            }
            columns[c].sort((a, b) => barycenter.get(a) - barycenter.get(b));
            remember(columns[c]);
        }
        const crossings = countCrossings(columns, down);
        if (crossings < fewest) {
            fewest = crossings;
            best = columns.map((list) => list.slice());
        }
    }
    return best;
}

/** Number of pairs of arrows that cross between neighbouring columns. */
export function countCrossings(columns, down) {
    let total = 0;
    for (let c = 0; c + 1 < columns.length; c++) {
        const next = new Map(columns[c + 1].map((v, index) => [v, index]));
        // Arrows in the order of their left ends (then of their right ends):
        // two cross when their right ends come in the other order.
        const rightEnds = [];
        for (const v of columns[c]) {
            const ends = down[v].map((w) => next.get(w)).filter((index) => index !== undefined);
            ends.sort((a, b) => a - b);
            rightEnds.push(...ends);
        }
        total += countInversions(rightEnds, columns[c + 1].length);
    }
    return total;
}

function countInversions(values, size) {
    // Fenwick tree over the right column: how many seen ends lie below each one.
    const tree = new Array(size + 1).fill(0);
    let inversions = 0;
    for (let i = 0; i < values.length; i++) {
        let atOrBelow = 0;
        for (let k = values[i] + 1; k > 0; k -= k & -k) {
            atOrBelow += tree[k];
        }
        inversions += i - atOrBelow;
        for (let k = values[i] + 1; k <= size; k += k & -k) {
            tree[k] += 1;
        }
    }
    return inversions;
}

function placeVertically(columns, up, down, isVirtual) {
    const center = new Map();
    const height = (v) => (isVirtual(v) ? VIRTUAL_HEIGHT : NODE_HEIGHT);
    const gap = (a, b) =>
        (height(a) + height(b)) / 2 + (isVirtual(a) && isVirtual(b) ? VIRTUAL_GAP : ROW_GAP);
    for (const list of columns) {
        const wanted = new Array(list.length).fill(0);
        settle(list, wanted, gap).forEach((y, i) => center.set(list[i], y));
    }
    for (let round = 0; round < PLACEMENT_ROUNDS; round++) {
        const rightward = round % 2 === 0;
        const neighbours = rightward ? up : down;
        for (let step = 0; step < columns.length; step++) {
            const list = columns[rightward ? step : columns.length - 1 - step];
            const wanted = list.map((v) => {
                const around = neighbours[v];
                return around.length
                    ? around.reduce((sum, u) => sum + center.get(u), 0) / around.length
                    : center.get(v);
            });
            settle(list, wanted, gap).forEach((y, i) => center.set(list[i], y));
        }
    }
    const result = [];
    for (const [v, y] of center) {
        result[v] = y;
    }
    return result;
}

/**
 * Heights as close as possible to the wanted ones, in order and spaced:
 * the mean of the tightest placement pushed downward and of the one pushed
 * upward (both keep the spacing, so their mean does too).
 */
function settle(list, wanted, gap) {
    const count = list.length;
    const pushedDown = new Array(count);
    const pushedUp = new Array(count);
    for (let i = 0; i < count; i++) {
        pushedDown[i] = i ? Math.max(wanted[i], pushedDown[i - 1] + gap(list[i - 1], list[i])) : wanted[i];
    }
    for (let i = count - 1; i >= 0; i--) {
        pushedUp[i] =
            i < count - 1 ? Math.min(wanted[i], pushedUp[i + 1] - gap(list[i], list[i + 1])) : wanted[i];
    }
    return pushedDown.map((y, i) => (y + pushedUp[i]) / 2);
}

function routePath(route, column, columnX, centerY) {
    const last = route.length - 1;
    let x = columnX(column[route[0]]) + NODE_WIDTH;
    let y = centerY(route[0]);
    let path = `M${x},${y}`;
    const curveTo = (toX, toY) => {
        const reach = Math.max(CURVE_REACH, (toX - x) / 2);
        path += ` C${x + reach},${y} ${toX - reach},${toY} ${toX},${toY}`;
        x = toX;
        y = toY;
    };
    for (let i = 1; i < last; i++) {
        const v = route[i];
        curveTo(columnX(column[v]), centerY(v));
        x += NODE_WIDTH;
        path += ` H${x}`;
    }
    curveTo(columnX(column[route[last]]), centerY(route[last]));
    return path;
}
