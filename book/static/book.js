/* The book's reading fixes for the pinned theme versions (loaded on every page via
   html_js_files in _config.yml).  tests/test_browser.py checks each of them in Chromium. */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  /* 1. The menu buttons on phones and tablets.
     pydata-sphinx-theme 0.17 wires its sidebar dialogs to the FIRST element with class
     primary-toggle / secondary-toggle (document.querySelector).  With sphinx-book-theme there
     are two of each: the first sits in the top bar, hidden below 992 px; the second, in the
     article header, is the one a reader sees and taps, and it had no listener.  Every other
     button of the same kind now forwards its click to the first, which opens the sidebar as a
     dialog on a narrow screen and collapses it on a wide one (sphinx-book-theme's handler). */
  function forwardToggles() {
    ["primary-toggle", "secondary-toggle"].forEach(function (kind) {
      var buttons = document.querySelectorAll("." + kind);
      var wired = buttons[0];
      Array.prototype.slice.call(buttons, 1).forEach(function (button) {
        button.addEventListener("click", function (event) {
          event.preventDefault();
          event.stopPropagation();
          wired.click();
        });
      });
    });
  }
  onReady(forwardToggles);

  /* 2. Saved widget state and MathJax 3.
     @jupyter-widgets/html-manager 1.0.6 typesets widget labels with MathJax 2's
     `MathJax.Hub.Queue(["Typeset", MathJax.Hub, element])`; the book uses MathJax 3, which
     has no Hub, so every widget page threw "Cannot read properties of undefined (reading
     'Queue')".  This gives MathJax 3 the one Hub call html-manager makes, done with MathJax 3's
     own typesetPromise.  MathJax 3 replaces window.MathJax when it loads (the configuration
     object becomes MathJax.config), so the Hub is attached to whatever object is installed. */
  function hubFor(mathjax) {
    function typeset(element) {
      var ready = mathjax.startup && mathjax.startup.promise
        ? mathjax.startup.promise : Promise.resolve();
      return ready.then(function () {
        if (typeof mathjax.typesetPromise === "function") {
          return mathjax.typesetPromise(element ? [element] : undefined);
        }
      });
    }
    return {
      Queue: function () {
        Array.prototype.forEach.call(arguments, function (job) {
          if (typeof job === "function") job();
          else if (Array.isArray(job) && job[0] === "Typeset") typeset(job[2]);
        });
      },
    };
  }
  function addHub(mathjax) {
    if (mathjax && mathjax.version && !mathjax.Hub) mathjax.Hub = hubFor(mathjax);
    return mathjax;
  }
  var current = addHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () { return current; },
    set: function (value) { current = addHub(value); },
  });

  /* 3. Inline formulas wider than the line.
     MathJax 3 draws an inline formula as one unbreakable box, so a long one widens the whole
     page on a phone.  Once MathJax has typeset the page (and whenever the window is resized),
     every inline formula wider than its text block is marked `attn-wide-math`; book.css turns
     such a formula into a box of its own that scrolls sideways, like a display equation. */
  function markWideInlineMath() {
    document.querySelectorAll("mjx-container:not([display='true'])").forEach(function (m) {
      m.classList.remove("attn-wide-math");
      var block = m.parentElement && m.parentElement.closest("p, li, dd, td, th, div, section");
      if (!block) return;
      var room = block.getBoundingClientRect().right;
      var math = m.querySelector("mjx-math") || m;  // the container itself may measure 0 wide
      var right = Math.max(m.getBoundingClientRect().right, math.getBoundingClientRect().right);
      if (right > room + 1) m.classList.add("attn-wide-math");
    });
  }
  /* 3b. Display equations on a narrow screen.
     A display equation wider than its column is shrunk to fit, down to 80 % of its size
     (MathJax draws in em, so its font size scales it).  One that still does not fit scrolls
     sideways and shows it: it gets the class `attn-math-scrolls` (book.css fades the side
     that hides more of it and keeps a scroll bar), and data-attn-scroll says which side
     that is, start, middle or end, as the reader scrolls it. */
  var MIN_MATH_SCALE = 0.8;
  function scrollState(m) {
    var left = m.scrollLeft, room = m.scrollWidth - m.clientWidth;
    m.dataset.attnScroll = left <= 1 ? "start" : left >= room - 1 ? "end" : "middle";
  }
  function fitDisplayMath() {
    document.querySelectorAll("mjx-container[display='true']").forEach(function (m) {
      m.style.fontSize = "";
      m.classList.remove("attn-math-scrolls");
      var room = m.clientWidth;
      if (room === 0 || m.scrollWidth <= room + 1) return;  // hidden, or fits
      var scale = Math.max(MIN_MATH_SCALE, Math.floor(100 * room / m.scrollWidth) / 100);
      m.style.fontSize = parseFloat(getComputedStyle(m).fontSize) * scale + "px";
      if (m.scrollWidth > m.clientWidth + 1) {
        m.classList.add("attn-math-scrolls");
        scrollState(m);
        if (!m.dataset.attnScrollWatched) {
          m.dataset.attnScrollWatched = "true";
          m.addEventListener("scroll", function () { scrollState(m); }, { passive: true });
        }
      }
    });
  }

  function afterTypeset() {
    markWideInlineMath();
    fitDisplayMath();
    // when typesetting ran: the layout test counts the shifts outside it (formulas replacing
    // their TeX move the text, however fast the machine)
    document.documentElement.dataset.attnMathEnd = String(performance.now());
    document.documentElement.dataset.attnMathDone = "true";  // the browser tests wait for it
  }
  // MathJax 3's documented hook, set in its configuration before it loads (tex-chtml.js is
  // deferred, so it has not run yet): mark wide formulas once the page is typeset.
  if (window.MathJax && !window.MathJax.version) {
    var config = window.MathJax;
    config.startup = config.startup || {};
    config.startup.pageReady = function () {
      document.documentElement.dataset.attnMathStart = String(performance.now());
      return window.MathJax.startup.defaultPageReady().then(afterTypeset);
    };
  }
  onReady(function () {
    var timer = null;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { markWideInlineMath(); fitDisplayMath(); }, 200);
    });
  });

  /* 4. Search results without raw TeX.
     Sphinx builds each result's summary from the page's text, where formulas are still TeX
     source (\(QK^\top\)).  On the search page, formulas are turned into readable plain text
     before the summary is cut (Search.htmlToText is Sphinx's hook for exactly this step). */
  var SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", eta: "η",
    theta: "θ", lambda: "λ", mu: "μ", pi: "π", rho: "ρ", sigma: "σ", tau: "τ", phi: "φ",
    varphi: "φ", psi: "ψ", omega: "ω", Delta: "Δ", Sigma: "Σ", Omega: "Ω", sum: "Σ", prod: "Π",
    top: "ᵀ", cdot: "·", cdots: "⋯", ldots: "…", dots: "…", times: "×", le: "≤", leq: "≤",
    ge: "≥", geq: "≥", ne: "≠", neq: "≠", approx: "≈", in: "∈", infty: "∞", to: "→",
    rightarrow: "→", leftarrow: "←", mapsto: "↦", odot: "⊙", otimes: "⊗", partial: "∂",
    nabla: "∇", sqrt: "√", mid: "|", quad: " ", qquad: " ", max: "max", min: "min",
    exp: "exp", log: "log", tanh: "tanh", sin: "sin", cos: "cos", arg: "arg", argmax: "argmax",
  };
  function texToText(tex) {
    var s = tex
      .replace(/\\[()[\]]|\$\$?/g, " ")
      .replace(/\\begin\{[a-z*]+\}|\\end\{[a-z*]+\}/g, " ")
      .replace(/\\(left|right|big|Big|bigg|Bigg)\b/g, "")
      .replace(/\^\s*\\top\b/g, "ᵀ");
    // innermost groups first, until nothing changes: e^{s_{ij}} -> e^s_ij
    for (var i = 0, before = null; i < 10 && before !== s; i++) {
      before = s;
      s = s
        .replace(/\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, "($1)/($2)")
        .replace(/\\sqrt\s*\{([^{}]*)\}/g, "√($1)")
        .replace(/\\(operatorname|mathrm|mathbf|mathit|mathcal|mathbb|text|textrm|boldsymbol)\s*\{([^{}]*)\}/g, "$2")
        .replace(/([_^])\{([^{}]*)\}/g, "$1$2");
    }
    return s
      .replace(/\\\\/g, "; ")
      .replace(/\\([A-Za-z]+)/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(SYMBOLS, name) ? SYMBOLS[name] : name;
      })
      .replace(/\\[,;:! ]/g, " ").replace(/&/g, "")
      .replace(/[{}]/g, "").replace(/\s+/g, " ").trim();
  }
  function patchSearch() {
    if (typeof Search === "undefined" || !Search.htmlToText || Search._bookMathText) return;
    var original = Search.htmlToText;
    Search.htmlToText = function (htmlString, anchor) {
      var doc = new DOMParser().parseFromString(htmlString, "text/html");
      // the link to the other edition is not the page's text
      doc.querySelectorAll(".edition-switch").forEach(function (el) { el.remove(); });
      doc.querySelectorAll(".math").forEach(function (el) {
        var number = el.querySelector(".eqno");  // (3) and its # link, before the TeX
        var label = number ? number.textContent.replace("#", "").trim() + " " : "";
        if (number) number.remove();
        el.textContent = " " + label + texToText(el.textContent) + " ";
      });
      return original.call(this, doc.documentElement.outerHTML, anchor);
    };
    Search._bookMathText = true;
  }
  /* 5. The sidebar's book title inside a landmark.
     The theme puts the book's title and logo at the top of the left sidebar, outside the
     sidebar's <nav>, so screen-reader users who move between landmarks never reach it (axe:
     "region").  The sidebar becomes a landmark of its own, named like the page's language. */
  onReady(function () {
    var sidebar = document.getElementById("pst-primary-sidebar");
    if (sidebar && !sidebar.hasAttribute("role")) {
      sidebar.setAttribute("role", "complementary");
      var zh = (document.documentElement.lang || "").slice(0, 2) === "zh";
      sidebar.setAttribute("aria-label", zh ? "本书目录" : "The book");
    }
  });

  window.attnBookTexToText = texToText; // for the browser test
  patchSearch();
  onReady(patchSearch);
})();
