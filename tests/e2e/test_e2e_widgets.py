"""The widget manager works in this JupyterLab: a plain ipywidgets slider renders as a widget."""

from __future__ import annotations

import pytest
from e2e_lab import expect

pytestmark = pytest.mark.e2e


def test_intslider_renders_as_a_widget(open_notebook):
    nb = open_notebook(
        "slider.ipynb", ["import ipywidgets as w\nw.IntSlider(value=7, description='seven')"]
    )
    nb.run_with_keyboard(0)
    nb.wait_done(0)
    out = nb.output(0)
    expect(out.locator(".widget-slider")).to_be_visible()
    expect(out.locator(".widget-readout")).to_have_text("7")
    expect(out).not_to_contain_text("IntSlider(")
