"""Questions from DeepMind's mathematics_dataset 1.0.1 (PyPI), fixed seed."""

import json, random, sys
import numpy as np

for _alias, _type in (("int", int), ("object", object), ("bool", bool), ("float", float)):
    setattr(np, _alias, _type)  # removed aliases the 2019 code still uses
from mathematics_dataset.modules import modules
from mathematics_dataset import generate_settings

random.seed(7)
np.random.seed(7)
counts = json.loads(sys.argv[1])
fns = modules.train(entropy_fns=[lambda r: (3, 6)] if False else None) if False else None
all_modules = (
    modules.train(
        lambda r: (float(r[0]) + (float(r[1]) - float(r[0])) * 0.5, float(r[1])) if False else (3.0, 6.0)
    )
    if False
    else None
)
from mathematics_dataset.generate import _make_entropy_fn
import functools

train = modules.train(_make_entropy_fn(0, 1))
out = []
for name, n in counts.items():
    group, _, mod = name.partition("__")
    fn = train[group][mod]
    made = 0
    for _ in range(n * 5):
        if made == n:
            break
        try:
            problem = fn()
        except Exception:  # some modules need an older numpy than installs on Python 3.11
            continue
        made += 1
        out.append({"module": name, "question": str(problem.question), "answer": str(problem.answer)})
print(json.dumps(out))
