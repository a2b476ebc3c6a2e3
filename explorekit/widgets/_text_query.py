"""The Explorer's text box: type a text, see where it lands on the map and what is near it.

Shown only when the Explorer has an encoder (``ek.Explorer(col, encoder=...)``, any callable
``texts -> vectors``; :mod:`explorekit.encoders` has ready ones). Entering a text embeds it with
the encoder (checked as every query's texts are: :func:`explorekit.query.encode.encode`) and
adds the vector as an example of the current click mode: a **positive** (or a negative or the
target in those modes; a positive in context-pair and inspect mode). It replaces the text
example that role had, so a new text moves the query; clicked examples stay and combine with it
(e.g. a text as positive, clicked points as negatives). With a text alone, the query is a
recommendation with one positive vector: the same answer as ``col.search(text, encoder=...)``,
and ``explorer.query`` holds the vector, so ``col.query(explorer.query)`` repeats it without
the encoder. The text sits on the map with a hexagram in its role's colour, placed by the
map's own projection (:func:`explorekit.analysis.projection.place`: PCA's basis, or UMAP's
``transform``) and listed under its text.

Examples
--------
>>> import numpy as np
>>> import explorekit as ek
>>> col = ek.Collection.from_arrays([[1.0, 0.0], [0.0, 1.0]], payload=[{"w": "apple"}, {"w": "pear"}])
>>> encoder = lambda texts: np.array([[1.0, 0.1] if "apple" in t else [0.1, 1.0] for t in texts])
>>> ex = ek.Explorer(col, encoder=encoder)
>>> ex.text_query.text.value = "apple pie"            # what pressing Enter in the box does
>>> ex.result["w"].tolist()
['apple', 'pear']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as W

from explorekit.query.encode import Encoder, check_encoder, encode_for
from explorekit.widgets._state import ExplorerState

ROLES_FOR_TEXT = ("positive", "negative", "target")  # click modes a text can take; others add a positive


class TextQueryBox(W.HBox):
    """A text box and a button; hidden when there is no encoder.

    ``mode()`` gives the Explorer's click mode; ``apply(change)`` runs a state change the way the
    Explorer does (errors go to its status line, success redraws).
    """

    def __init__(
        self,
        state: ExplorerState,
        encoder: Encoder | None,
        mode: Callable[[], str],
        apply: Callable[[Callable[[], Any]], bool],
    ) -> None:
        check_encoder(encoder, "Explorer: encoder")
        self.state, self.encoder, self.mode, self.apply = state, encoder, mode, apply
        self.text = W.Text(
            placeholder="a text to search by, e.g. parse a JSON string",
            continuous_update=False,
            description="text",
            layout=W.Layout(width="380px"),
        )
        self.button = W.Button(description="embed", tooltip="embed the text and add it as an example")
        self.button.layout.width = "70px"
        self.text.observe(lambda change: self.submit(change["new"]), names="value")
        self.button.on_click(lambda _: self.submit(self.text.value))
        super().__init__([self.text, self.button], layout=W.Layout(display="flex" if encoder else "none"))

    def role(self) -> str:
        """The role a typed text takes: the click mode when it is one of :data:`ROLES_FOR_TEXT`."""
        mode = self.mode()
        return mode if mode in ROLES_FOR_TEXT else "positive"

    def submit(self, text: str) -> bool:
        """Embed ``text`` and add it as an example (blank text does nothing); whether it was added."""
        if self.encoder is None or not isinstance(text, str) or not text.strip():
            return False
        text = text.strip()
        return self.apply(lambda: self.state.add_embedded(self.role(), text, self.vector(text)))

    def vector(self, text: str) -> Any:
        """The encoder's vector of ``text``, checked against the Explorer's vector space."""
        return encode_for(self.state.col, self.state.using, self.encoder, [text], "text box: encoder")[0]
