"""Questions from DeepMind's mathematics_dataset 1.0.1 (PyPI), with a fixed seed, as JSON on
stdout. Its 2019 code needs sympy 1.5 and the numpy aliases removed since, so it runs in a
virtualenv of its own:

    python -m venv /tmp/md && /tmp/md/bin/pip install mathematics-dataset==1.0.1 sympy==1.5.1 "numpy<2"
    /tmp/md/bin/python mathematics_dataset_sample.py '{"algebra__linear_1d": 8}' > mathematics_dataset.json
"""

import json
import random
import sys

import numpy as np

for _alias, _type in (("int", int), ("object", object), ("bool", bool), ("float", float)):
    setattr(np, _alias, _type)  # removed aliases the 2019 code still uses

from mathematics_dataset.generate import _make_entropy_fn  # noqa: E402 - after the aliases
from mathematics_dataset.modules import modules  # noqa: E402

random.seed(7)
np.random.seed(7)
counts = json.loads(sys.argv[1])
train = modules.train(_make_entropy_fn(0, 1))
out = []
for name, wanted in counts.items():
    group, _, module = name.partition("__")
    make = train[group][module]
    made = 0
    for _ in range(wanted * 5):
        if made == wanted:
            break
        try:
            problem = make()
        except (AttributeError, TypeError, ValueError):  # modules that need an older numpy
            continue
        made += 1
        out.append({"module": name, "question": str(problem.question), "answer": str(problem.answer)})
print(json.dumps(out))
