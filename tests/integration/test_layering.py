"""test_layering.py - the architecture of common/ as DESIGN.md draws it,
checked on the #include lines: arrows point down only, no circles.

A module is a .c file with its .h (common/host/sockets/sockdiag.[ch]); a
layer is a folder under common/. The layers and what each may include:
  core       nothing but itself (the ground floor)
  transport  core
  sources    core
  outputs    core
  host       core (its subfolders among themselves, without circles)
  fleet      core, host
  gather     everything below it
"""
import os
import re
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COMMON = os.path.join(ROOT, "common")
ALLOWED = {
    "core": set(),
    "transport": {"core"},
    "sources": {"core"},
    "outputs": {"core"},
    "host": {"core"},
    "fleet": {"core", "host"},
    "gather": {"core", "transport", "sources", "outputs", "host", "fleet"},
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def modules():
    """{module: set of modules it includes}, module = path under common/ without extension."""
    graph = {}
    for folder, _, files in os.walk(COMMON):
        for name in files:
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(folder, name)
            module = os.path.relpath(path, COMMON)[:-2]
            with open(path, encoding="utf-8") as f:
                includes = {inc[:-2] for inc in INCLUDE.findall(f.read()) if inc.endswith(".h")}
            graph.setdefault(module, set()).update(includes - {module})
    return graph


def find_cycle(graph):
    """One cycle as a list of nodes, or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


class Layering(unittest.TestCase):
    def test_every_include_names_a_file_of_common(self):
        graph = modules()
        for module, includes in graph.items():
            for inc in includes:
                self.assertIn(inc, graph, "%s includes %s.h, which is not in common/" % (module, inc))

    def test_layers_point_down_only(self):
        for module, includes in modules().items():
            layer = module.split("/")[0]
            self.assertIn(layer, ALLOWED, "common/%s is in no known layer" % module)
            for inc in includes:
                target = inc.split("/")[0]
                if target != layer:
                    self.assertIn(target, ALLOWED[layer], "%s (%s) includes %s" % (module, layer, inc))

    def test_no_include_cycle_between_modules(self):
        self.assertIsNone(find_cycle(modules()))

    def test_no_cycle_between_host_parts(self):
        folders = {}
        for module, includes in modules().items():
            parts = module.split("/")
            if parts[0] != "host" or len(parts) < 3:
                continue
            for inc in includes:
                ip = inc.split("/")
                if ip[0] == "host" and len(ip) >= 3 and ip[1] != parts[1]:
                    folders.setdefault(parts[1], set()).add(ip[1])
        self.assertIsNone(find_cycle(folders))

    def test_finder_sees_a_cycle(self):
        # the check itself can fail
        self.assertEqual(find_cycle({"a": {"b"}, "b": {"a"}}), ["a", "b", "a"])
        self.assertIsNone(find_cycle({"a": {"b"}, "b": set()}))


if __name__ == "__main__":
    unittest.main()
