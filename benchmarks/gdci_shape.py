"""A GDCI-shaped synthetic framework (3 dimensions, 8 sub-dimensions, 20 indicators) for the
Bayesian benchmark and tests, used until the bundled ``data/frameworks/gdci.yaml`` lands."""

from __future__ import annotations

from model.framework import Framework, Node

# sub-dimension sizes per dimension: includes a 1-indicator and 2-indicator sub-dimensions and
# a 2-child dimension, to exercise the identification rules
SHAPE = {"D1": [3, 2, 3], "D2": [3, 1, 3], "D3": [3, 2]}


def gdci_like_framework(shape: dict[str, list[int]] = SHAPE) -> Framework:
    nodes = [Node("Index", level=4)]
    k_sub = k_ind = 0
    for dim, sizes in shape.items():
        nodes.append(Node(dim, parent="Index", level=3))
        for size in sizes:
            k_sub += 1
            sub = f"S{k_sub}"
            nodes.append(Node(sub, parent=dim, level=2))
            for _ in range(size):
                k_ind += 1
                nodes.append(Node(f"I{k_ind:02d}", parent=sub, level=1,
                                  direction=-1 if k_ind % 4 == 0 else 1))
    return Framework(nodes, name="gdci_like")
