"""The web pages `sluicegate serve` ships (plain HTML, CSS and JavaScript modules; no build step,
no network): the shop assistant chat (`/`), structured generation (`/generate`) and the admin
view (`/admin`). They speak only the public HTTP API and its typed frames."""
