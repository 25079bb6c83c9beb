# The kernel configuration of `dev.py execute` and of the tests' nbval runs (dev.py copies
# this file into a fresh IPYTHONDIR for each run, as profile_default/ipython_kernel_config.py).
#
# Figures are stored at twice their display resolution ("retina"): matplotlib draws each
# PNG at twice the figure's dpi and the output says the size to show it at (half of that), so
# that a figure stays sharp when a reader zooms in on a phone or reads on a HiDPI screen.
# tests/test_reading_en.py::test_figures_are_stored_at_twice_their_displayed_size checks it
# against the built book.  No notebook cell needs to say anything for it.
c = get_config()  # noqa: F821 (IPython's config loader provides get_config)
c.InlineBackend.figure_formats = {"retina"}
