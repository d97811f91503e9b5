"""Rule signals: what a message shows that says a lot about its class, in English, Spanish and
French — code, maths, an order id, a question about a price or stock, a request for arithmetic or
advice. They are features of the classifier (it learned how much each one weighs), not verdicts."""

from __future__ import annotations

import re

from sluicegate.routing.text import fold


def _any(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# Order ids as people write them: ORD-104233, ord104233, #104233, "order 104233", 112-1234567-1234567.
ORDER_ID = re.compile(
    r"(?:\b(?:ord(?:er)?|pedido|commande|n[o°º])\b\.?[\s:#.-]*(?:n[o°º]\.?\s*)?#?\s*|#\s*)(\d{5,})\b"
    r"|\bord(\d{5,})\b|\b[a-z]{2,4}-\d{5,}\b|\b\d{3}-\d{7}-\d{7}\b"
)
_ORDER_WORDS = _any(
    r"\border", r"\bpedido", r"\bcommande", r"\btrack", r"\bseguimiento", r"\bsuivi", r"\bshipped",
    r"\bdeliver", r"\barriv", r"\bllega", r"\benvi", r"\bexpedi", r"\blivr", r"\bpackage", r"\bparcel",
    r"\bcolis", r"\bpaquete",
)  # fmt: skip
_PRICE_WORDS = _any(
    r"\bprice", r"\bcost", r"\bhow much", r"\bhw much", r"\bprecio", r"\bcuanto", r"\bvale\b",
    r"\bprix\b", r"\bcombien", r"\bcoute", r"\bc'?est combien",
)  # fmt: skip
_STOCK_WORDS = _any(
    r"\bin stock", r"\bstock\b", r"\bavailab", r"\bsold out", r"\bleft\b", r"\bdisponib", r"\bagotad",
    r"\ben stock", r"\bepuise", r"\bdo (?:yo)?u (?:have|sell|carry)", r"\btienen\b", r"\bhay\b",
    r"\bvous avez", r"\bavez-vous", r"\bstill buy",
)  # fmt: skip
_SEARCH_WORDS = _any(
    r"\bby [a-z]+ [a-z]+", r"\bbooks? (?:by|from|of)\b", r"\bvolumes? of\b", r"\bshow me\b",
    r"\bsearch\b", r"\blist (?:the|all)?", r"\bbusco\b", r"\bmuestrame\b", r"\bje cherche\b",
    r"\blibros de\b", r"\blivres de\b", r"\btomos de\b", r"\btomes de\b", r"\banything by\b",
)  # fmt: skip
_VOLUME = re.compile(
    r"\b(?:vol(?:ume)?|v|tomo|tome|book|#|no\.?)\s*\.?\s*\d{1,3}\b|\b\d{1,3}(?:st|nd|rd|th)? (?:vol|volume|tomo|tome)\b"
)
_ARITHMETIC_WORDS = _any(
    r"\btotal\b", r"\bin total", r"\b\d+ ?%", r"\bdiscount", r"\btax\b", r"\bper (?:page|book|volume)",
    r"\bhow many .* can i", r"\bleft over", r"\bovercharg", r"\bdescuento", r"\bremise", r"\bcheaper",
    r"\bif i buy", r"\bsi compro", r"\bsi (?:un|j'en)", r"\bwhat do i pay", r"\bcuanto pago", r"\bje paie",
)  # fmt: skip
_ADVICE_WORDS = _any(
    r"\brecommend", r"\bsuggest", r"\bsuitable", r"\bshould i", r"\bwhat is .* about", r"\bworth",
    r"\bsimilar to", r"\blike[d]? .* (?:what|which)", r"\bfor (?:a|my) \d+ ?(?:year|yo)", r"\brecomiend",
    r"\bparecido", r"\bconseill", r"\bpour un ado", r"\bfirst\?",
)  # fmt: skip
_CODE_SYNTAX = _any(
    r"```", r"\bdef \w+\(", r"\bfunction\s*\w*\(", r"=>", r"\breturn\b .*[;)]", r"\bclass \w+[:({]",
    r"\bimport \w+", r"#include", r"\bconsole\.log", r"\bprint\(", r"[{};]\s*$", r"\w+\(\)\.",
    r"\b\w+error\b:", r"\btraceback\b", r"\bline \d+", r"\$\w+", r"\bfor \w+ in ", r"</?\w+>",
)  # fmt: skip
_CODE_WORDS = _any(
    r"\bpython\b", r"\bjavascript\b", r"\btypescript\b", r"\bjava\b", r"\brust\b", r"\bgolang\b", r"\bgo\b (?:http|program|function)",
    r"\bc\+\+", r"\bc program", r"\bsql\b", r"\bregex", r"\bbash\b", r"\bshell script", r"\bdockerfile",
    r"\bkubernetes", r"\byaml\b", r"\bjson\b", r"\bapi\b", r"\bfunction\b", r"\bfuncion\b", r"\bfonction\b",
    r"\bscript\b", r"\bcode\b", r"\bcodigo\b", r"\bcompile", r"\bdebug", r"\brefactor", r"\bunit tests?\b",
    r"\bpytest\b", r"\bimplement", r"\balgorithm", r"\bgit\b", r"\breact\b", r"\bpandas\b", r"\bclass\b",
    r"\bmethod\b", r"\bvariable", r"\barray\b", r"\blist of (?:integers|numbers|strings)", r"\bstring\b",
    r"\bcadena\b", r"\btableau\b", r"\breturns?\b", r"\bgiven (?:a |an )?(?:list|string|array|integer)",
)  # fmt: skip
# LaTeX as competition problems write it: $...$, \\frac, \\sqrt, \\sum.
_LATEX = re.compile(r"\$[^$\n]{1,80}\$|\\(?:frac|sqrt|sum|int|cdot|le|ge|pi|binom|times)\b")
_MATH_EXPR = re.compile(
    r"\d\s*[-+*/^=]\s*[\d(a-z]|[a-z]\*\*\d|\b[a-z]\s*[=+*/^]\s*\d|\b\d+[a-z]\b|[√∫∑π²³]|\bsqrt\b"
)
_MATH_WORDS = _any(
    r"\bsolve\b", r"\bprove\b", r"\bshow that\b", r"\bderivative", r"\bdifferentiat", r"\bintegral",
    r"\bequation", r"\bprobabilit", r"\bprob of\b", r"\bprime\b", r"\bfactor", r"\bremainder",
    r"\bdeterminant", r"\bmatrix", r"\bcalculate\b", r"\bcompute\b", r"\bevaluate\b", r"\bsimplify",
    r"\bexpand\b", r"\bwhat comes next", r"\bnext in\b", r"\bgreatest common", r"\bcommon multiple",
    r"\bhow many ways", r"\bspeed\b", r"\bvelocity", r"\baccelerat", r"\benergy\b", r"\bmass\b",
    r"\bforce\b", r"\bmolar|\b\d+(?:\.\d+)? ?m\b solution", r"\bph\b", r"\bresuelve", r"\becuacion",
    r"\bresoudre", r"\bderivee", r"\bprobabilidad", r"\bexplain (?:the )?(?:physics|why)", r"\bstep by step",
    r"\bestimate\b", r"\bbalance the equation", r"\bsolutions? of\b", r"\bwrt\b", r"\bdivided by\b",
    r"\bconvert [\d.]+", r"\bhow many \w+ (?:are there )?in\b", r"\bhow (?:high|far|fast|long does|much energy|much time)",
    r"\bhow many (?:positive |negative )?(?:integers|numbers|ways|primes)", r"\bfind the (?:area|minimum|maximum|value|remainder|sum|number)",
    r"\bhalf-life", r"\bwavelength", r"\bresistor", r"\bohm", r"\bprime numbers", r"\bnombres premiers",
    r"\bsum of\b", r"\bproduct of\b", r"\baverage of\b", r"\bshow your (?:work|reasoning)", r"\btime complexity",
    r"\bcombien de temps", r"\bcuanto tiempo", r"\bthirds?\b|\bhalves\b|\bquarters? of\b",
)  # fmt: skip
_GREETING = _any(
    r"^(?:hi|hello|hey|good (?:morning|night|evening)|thanks?|thank you|bye|hola|buenos|gracias|adios|bonjour|bonsoir|salut|merci)\b",
)
_WRITING = _any(
    r"\bwrite (?:a|an|me) (?:haiku|poem|story|note|email|letter|product description|review|tweet|post)",
    r"\bsummari[sz]e", r"\btranslate", r"\brewrite", r"\brephrase", r"\bmore polite", r"\bformat (?:this|as)",
    r"\bbullet points", r"\bmarkdown table", r"\bcapitali[sz]e", r"\bdraft\b", r"\bpoema?\b", r"\bresume en",
    r"\breformule", r"\bescribe un (?:poema|correo|mensaje)", r"\becris un (?:petit mot|poeme|mail)",
    r"\blegal\b", r"\blandlord", r"\bcopyright", r"\btrademark", r"\bcontrat", r"\bcontract", r"\bgdpr",
)  # fmt: skip

_SIGNALS: dict[str, re.Pattern[str]] = {
    "order_id": ORDER_ID,
    "order_words": _ORDER_WORDS,
    "price_words": _PRICE_WORDS,
    "stock_words": _STOCK_WORDS,
    "search_words": _SEARCH_WORDS,
    "volume": _VOLUME,
    "arithmetic_words": _ARITHMETIC_WORDS,
    "advice_words": _ADVICE_WORDS,
    "code_syntax": _CODE_SYNTAX,
    "code_words": _CODE_WORDS,
    "math_expr": _MATH_EXPR,
    "latex": _LATEX,
    "math_words": _MATH_WORDS,
    "greeting": _GREETING,
    "writing": _WRITING,
}


def signals(text: str) -> list[str]:
    """The rule signals a message shows, as feature names (`sig:...`); the raw text is read for
    code (its layout matters), the folded text for the rest."""
    folded = fold(text)
    found = [f"sig:{name}" for name, pattern in _SIGNALS.items() if pattern.search(folded)]
    if "\n" in text.strip() and any(ch in text for ch in "{}();="):
        found.append("sig:code_block")
    numbers = len(re.findall(r"\d+(?:[.,]\d+)?", folded))
    if numbers >= 3:
        found.append("sig:many_numbers")
    if len(folded) > 240:
        found.append("sig:long")
    elif len(folded) < 25:
        found.append("sig:short")
    return found
