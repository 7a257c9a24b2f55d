"""The JSON viewer's HTML: Copy gives the document, folds start where asked, text is escaped."""

from __future__ import annotations

import html
import json
import re

from argyll.ui.views.json_view import json_html, json_text

DOCUMENT = {"name": "<b>&", "items": [1, 2.5, None, True, {"deep": {"deeper": "x"}}], "empty": {}}


def _copied(text: str) -> object:
    match = re.search(r'data-json="([^"]*)"', text)
    assert match is not None
    return json.loads(html.unescape(match[1]))


def test_the_copy_button_carries_the_document() -> None:
    assert _copied(json_html("doc", DOCUMENT, key="d")) == DOCUMENT
    assert json.loads(json_text(DOCUMENT)) == DOCUMENT


def test_text_is_escaped_and_each_token_is_one_span() -> None:
    text = json_html("a <title>", DOCUMENT, key="d")
    assert "<b>&" not in text
    assert '<span class="json-string">&quot;&lt;b&gt;&amp;&quot;</span>' in text
    assert 'aria-label="a &lt;title&gt;"' in text
    assert '<span class="json-literal">null</span>' in text
    assert '<span class="json-number">2.5</span>' in text
    assert '<span class="json-punct">{}</span>' in text


def test_nodes_deeper_than_open_depth_start_folded_and_unrendered() -> None:
    text = json_html("doc", DOCUMENT, key="d", open_depth=2)
    assert re.search(r'data-path="d" open>', text)
    assert re.search(r'data-path="d/items" open>', text)
    assert re.search(r'data-path="d/items/4">', text)
    assert '<template class="json-lazy">' in text
    folded = json_html("doc", DOCUMENT, key="d", open_depth=0)
    assert re.search(r'data-path="d">', folded)
    assert "… 3 keys }" in folded
