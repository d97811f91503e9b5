"""`guardrails.competitors`: the stores the shop's answers must not name, link or compare with.
An entry is a name (its common variants are derived: `&`/`and`/`n`, hyphens as spaces or
nothing, an optional apostrophe) or an object with aliases, domains and case sensitivity — a
store called `Target` is named only with a capital, not in "our target date".

The default is the demo manga shop's: the large online retailers and marketplaces, bookstore
chains, and manga and anime specialty stores its customers name (seed 000's two names first)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Competitor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list, description="Other names and abbreviations.")
    domains: list[str] = Field(
        default_factory=list,
        description="Web domains (`bn.com`); a URL on one is masked whole. The name's own "
        "letters with a common TLD are matched without being listed.",
    )
    case_sensitive: bool = Field(
        default=False, description="Match only as written (for names that are words)."
    )


def _c(name: str, *aliases: str, domains: tuple[str, ...] = (), case_sensitive: bool = False) -> Competitor:
    return Competitor(name=name, aliases=list(aliases), domains=list(domains), case_sensitive=case_sensitive)


DEFAULT_COMPETITORS: list[str | Competitor] = [
    # Seed 000's two names.
    _c("Barnes & Noble", "B&N", domains=("bn.com", "barnesandnoble.com")),
    _c("Books-A-Million", "BAM!", "Books a Million", domains=("booksamillion.com",)),
    # Online retailers and marketplaces.
    _c("Amazon", "Amazon.com", "AMZN", "Kindle Store", domains=("amzn.to", "amzn.com", "amazon.co.jp")),
    _c("eBay"),
    _c("Walmart", "Wal-Mart"),
    _c("Target", case_sensitive=True),
    _c("Best Buy", case_sensitive=True),
    _c("Costco"),
    _c("AliExpress", "Ali Express"),
    _c("Alibaba"),
    _c("Temu"),
    _c("Etsy"),
    _c("Mercari"),
    _c("Rakuten"),
    _c("Book Depository", domains=("bookdepository.com",)),
    _c("Bookshop.org", domains=("bookshop.org",)),
    _c("ThriftBooks", "Thrift Books"),
    _c("AbeBooks", "Abe Books"),
    _c("Kobo", "Rakuten Kobo"),
    _c("Apple Books"),
    _c("Google Play Books", "Google Play"),
    _c("ComiXology"),
    _c("BookWalker", "Book Walker", "BOOK☆WALKER", domains=("bookwalker.jp",)),
    # Bookstore chains.
    _c("Waterstones", "Waterstone's"),
    _c("Foyles"),
    _c("WHSmith", "WH Smith", "W H Smith"),
    _c("Indigo", "Chapters Indigo", case_sensitive=True, domains=("indigo.ca", "chapters.indigo.ca")),
    _c("Powell's Books", "Powell's", "Powells"),
    _c("Half Price Books", "HPB"),
    _c("Hastings Entertainment"),
    _c("Dymocks"),
    _c("Kinokuniya", "Books Kinokuniya"),
    _c("Tsutaya"),
    # Manga and anime specialty stores.
    _c("Right Stuf", "Right Stuf Anime", "RightStuf", domains=("rightstufanime.com",)),
    _c("Crunchyroll Store", "Crunchyroll", domains=("store.crunchyroll.com",)),
    _c("Forbidden Planet"),
    _c("Animate", "Animate Online Shop", case_sensitive=True),
    _c("Mandarake"),
    _c("Book Off", "BookOff", "Book-Off"),
    _c("Tokyo Otaku Mode", "TOM Shop"),
    _c("AmiAmi"),
    _c("CDJapan"),
    _c("Manga Planet"),
    _c("VIZ Shop", "VIZ Media", domains=("viz.com",)),
]
