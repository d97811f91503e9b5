"""The shop tools' results as answers, from templates, in English, Spanish or French (the
language the question was asked in). Every number in a reply comes from the tool's result."""

from __future__ import annotations

from typing import Literal

from sluicegate.routing.text import fold, words
from sluicegate.routing.tools import ToolResult

Language = Literal["en", "es", "fr"]

_MARKERS: dict[Language, set[str]] = {
    "es": {"cuanto", "cuesta", "precio", "tienen", "hay", "pedido", "donde", "esta", "mi", "tomo", "tomos",
           "busco", "libros", "de", "el", "los", "que", "cuando", "llega", "estado", "muestrame", "disponible",
           "seguimiento", "numero", "del", "vale"},
    "fr": {"combien", "coute", "prix", "est", "ce", "que", "vous", "avez", "commande", "ou", "en", "ma", "mon",
           "tome", "tomes", "je", "cherche", "livres", "des", "quel", "quels", "suivi", "partie", "encore", "c",
           "du", "la", "le", "pour", "statut"},
}  # fmt: skip
_ENGLISH = {
    "the",
    "is",
    "how",
    "much",
    "what",
    "where",
    "my",
    "order",
    "price",
    "do",
    "you",
    "have",
    "of",
    "in",
}


def language_of(text: str) -> Language:
    """The question's language, by its common words (a shop question is short; a detector
    trained on prose would guess from too little)."""
    seen = words(fold(text))
    scores = {lang: sum(w in markers for w in seen) for lang, markers in _MARKERS.items()}
    english = sum(w in _ENGLISH for w in seen)
    best: Language = max(scores, key=scores.__getitem__)
    return best if scores[best] > english else "en"


_TEXT: dict[str, dict[Language, str]] = {
    "offer": {
        "en": "{title}: {price} {currency}, {stock} in stock.",
        "es": "{title}: {price} {currency}, {stock} en stock.",
        "fr": "{title} : {price} {currency}, {stock} en stock.",
    },
    "out_of_stock": {
        "en": "{title}: {price} {currency}, out of stock.",
        "es": "{title}: {price} {currency}, agotado.",
        "fr": "{title} : {price} {currency}, épuisé.",
    },
    "none": {
        "en": "We have no listing for {query}.",
        "es": "No tenemos ningún artículo para {query}.",
        "fr": "Nous n'avons aucun article pour {query}.",
    },
    "more": {"en": "…and {count} more.", "es": "…y {count} más.", "fr": "…et {count} de plus."},
    "no_order": {
        "en": "I can't find an order {order_id}. Please check the number.",
        "es": "No encuentro el pedido {order_id}. Por favor, revisa el número.",
        "fr": "Je ne trouve pas de commande {order_id}. Merci de vérifier le numéro.",
    },
    "order": {
        "en": "Order {order_id} (placed {placed}) is {status}. Items: {items}. Total: {total}.",
        "es": "El pedido {order_id} (del {placed}) está {status}. Artículos: {items}. Total: {total}.",
        "fr": "La commande {order_id} (passée le {placed}) est {status}. Articles : {items}. Total : {total}.",
    },
    "shipping": {
        "en": " Shipped with {carrier}, tracking number {tracking}, expected {eta}.",
        "es": " Enviado con {carrier}, número de seguimiento {tracking}, llegada prevista {eta}.",
        "fr": " Expédiée par {carrier}, numéro de suivi {tracking}, livraison prévue le {eta}.",
    },
    "error": {
        "en": "I couldn't look that up: {error}",
        "es": "No pude consultarlo: {error}",
        "fr": "Je n'ai pas pu le vérifier : {error}",
    },
}
_STATUS: dict[str, dict[Language, str]] = {
    "processing": {"en": "being prepared", "es": "en preparación", "fr": "en préparation"},
    "shipped": {"en": "shipped", "es": "enviado", "fr": "expédiée"},
    "in_transit": {"en": "in transit", "es": "en camino", "fr": "en cours d'acheminement"},
    "delivered": {"en": "delivered", "es": "entregado", "fr": "livrée"},
    "cancelled": {"en": "cancelled", "es": "cancelado", "fr": "annulée"},
}
MAX_OFFERS = 6


def render(result: ToolResult, lang: Language) -> str:
    if result.result is None:
        return _TEXT["error"][lang].format(error=result.error)
    data = result.result.model_dump()
    if "offers" in data:
        return _offers(data, lang)
    return _order(data, lang)


def _offers(data: dict[str, object], lang: Language) -> str:
    offers = data["offers"]
    assert isinstance(offers, list)
    if not offers:
        return _TEXT["none"][lang].format(query=data["query"])
    lines = [
        _TEXT["offer" if offer["stock"] > 0 else "out_of_stock"][lang].format(
            title=offer["title"],
            price=f"{offer['price']:.2f}",
            currency=offer["currency"],
            stock=offer["stock"],
        )
        for offer in offers[:MAX_OFFERS]
    ]
    if len(offers) > MAX_OFFERS:
        lines.append(_TEXT["more"][lang].format(count=len(offers) - MAX_OFFERS))
    return "\n".join(lines)


def _order(data: dict[str, object], lang: Language) -> str:
    if not data["found"]:
        return _TEXT["no_order"][lang].format(order_id=data["order_id"])
    items = data["items"]
    assert isinstance(items, list)
    listed = ", ".join(f"{item['quantity']} × {item['title']}" for item in items)
    text = _TEXT["order"][lang].format(
        order_id=data["order_id"],
        placed=data["placed"],
        status=_STATUS[str(data["status"])][lang],
        items=listed,
        total=f"{data['total']:.2f} USD",
    )
    if data["carrier"]:
        text += _TEXT["shipping"][lang].format(
            carrier=data["carrier"], tracking=data["tracking"], eta=data["eta"]
        )
    return text
