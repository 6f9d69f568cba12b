"""The shape of job graphs (engine/graph.py): vertices, edges, paths, order."""

from __future__ import annotations

import doctest

import engine.graph
from engine.graph import Graph


def test_doctests():
    assert doctest.testmod(engine.graph).failed == 0


def test_topological_sort_puts_every_parent_first():
    graph = Graph()
    for parent, child in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e")]:
        graph.add_edge(parent, child)
    order = list(graph.topological_sort())
    assert sorted(order) == ["a", "b", "c", "d", "e"]
    for parent, child in graph.edges():
        assert order.index(parent) < order.index(child)


def test_paths_and_roots():
    graph = Graph()
    graph.add_edge("a", "b")
    graph.add_edge("a", "c")
    graph.add_vertex("z")
    assert graph.root_vertices() == {"a", "z"}
    assert sorted(graph.paths("a")) == [["a", "b"], ["a", "c"]]
    assert graph.vertices() == {"a", "b", "c", "z"}
