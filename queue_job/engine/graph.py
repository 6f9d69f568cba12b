"""A directed acyclic graph of hashable vertices: the shape of a job graph.

>>> g = Graph()
>>> g.add_edge("a", "b"); g.add_edge("b", "c"); g.add_edge("a", "d")
>>> order = list(g.topological_sort())
>>> order.index("a") < order.index("b") < order.index("c")
True
"""

from collections import defaultdict, deque


class Graph:
    """A directed acyclic graph of hashable vertices."""

    __slots__ = ("_graph",)

    def __init__(self, graph=None):
        self._graph = graph if graph else {}

    def add_vertex(self, vertex):
        self._graph.setdefault(vertex, set())

    def add_edge(self, parent, child):
        self.add_vertex(child)
        self._graph.setdefault(parent, set()).add(child)

    def vertices(self):
        return set(self._graph)

    def edges(self):
        return [(parent, child) for parent, children in self._graph.items() for child in children]

    def root_vertices(self):
        children = set().union(*self._graph.values()) if self._graph else set()
        return set(self._graph) - children

    def paths(self, vertex):
        """Every maximal path without a cycle starting at ``vertex``."""
        path, seen = [vertex], {vertex}

        def walk():
            extended = False
            for child in self._graph[path[-1]]:
                if child in seen:
                    continue
                extended = True
                seen.add(child)
                path.append(child)
                yield from walk()
                path.pop()
                seen.discard(child)
            if not extended:
                yield list(path)

        yield from walk()

    def topological_sort(self):
        """Vertices, each after all of its parents (Kahn's algorithm)."""
        indegree = defaultdict(int)
        for _parent, child in self.edges():
            indegree[child] += 1
        ready = deque(self.root_vertices())
        while ready:
            vertex = ready.popleft()
            yield vertex
            for child in self._graph[vertex]:
                indegree[child] -= 1
                if not indegree[child]:
                    ready.append(child)

    def __repr__(self):
        lines = [
            " → ".join(repr(vertex) for vertex in path)
            for root in self.root_vertices()
            for path in self.paths(root)
        ]
        return "\n".join(lines)
