// domcheck.js: measures, in a rendered report, what a reader would see as
// broken layout. Evaluated by browser_test.go in headless Chromium; returns
// {width, height, problems: [{kind, where, text, detail}]}. It reads the DOM
// only; it changes nothing.
(() => {
  const W = window.innerWidth;
  const slack = 0.5; // sub-pixel rounding
  const minFont = 10; // px on screen; below it text is not readable on a phone
  const problems = [];
  const where = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) {
      let s = e.tagName.toLowerCase();
      if (e.id) s += "#" + e.id;
      const cls = e.getAttribute("class");
      if (cls) s += "." + cls.trim().split(/\s+/).join(".");
      parts.unshift(s);
    }
    return parts.join(" > ");
  };
  const add = (kind, el, detail) =>
    problems.push({ kind, where: where(el), text: (el.textContent || "").trim().slice(0, 60), detail });
  const style = (el) => getComputedStyle(el);
  const isScroller = (el) => ["auto", "scroll"].includes(style(el).overflowX);
  const clips = (el) => ["hidden", "clip"].includes(style(el).overflowX);
  const rendered = (el) => {
    if (el.getClientRects().length === 0) return false;
    const s = style(el);
    return s.visibility !== "hidden" && s.display !== "none";
  };
  const ownText = (el) =>
    [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim() !== "");
  const ancestor = (el, pred) => {
    for (let a = el.parentElement; a; a = a.parentElement) if (pred(a)) return a;
    return null;
  };
  const px = (v) => Math.round(v * 10) / 10;

  // The page itself must not scroll sideways.
  const sw = document.documentElement.scrollWidth;
  if (sw > W + slack) {
    problems.push({ kind: "page-scrolls-sideways", where: "html", text: "", detail: `scrollWidth ${sw} > viewport ${W}` });
  }

  for (const el of document.body.querySelectorAll("*")) {
    if (!ownText(el) || !rendered(el)) continue;
    const r = el.getBoundingClientRect();
    const inSVG = el instanceof SVGElement;
    const scroller = ancestor(el, isScroller);

    // Text on screen: inside the viewport unless inside a sideways scroller.
    if (!scroller && (r.left < -slack || r.right > W + slack)) {
      add("text-off-screen", el, `x ${px(r.left)}..${px(r.right)} outside 0..${W}`);
    }
    // Text cut by an ancestor that clips.
    const clip = ancestor(el, (a) => clips(a) && !(a instanceof SVGElement));
    if (clip) {
      const c = clip.getBoundingClientRect();
      if (r.left < c.left - slack || r.right > c.right + slack) {
        add("text-clipped", el, `x ${px(r.left)}..${px(r.right)} outside ${where(clip)} ${px(c.left)}..${px(c.right)}`);
      }
    }
    if (inSVG) {
      // SVG text outside its svg's viewport is cut off by it.
      const svg = el.ownerSVGElement;
      const s = svg.getBoundingClientRect();
      if (r.left < s.left - slack || r.right > s.right + slack || r.top < s.top - slack || r.bottom > s.bottom + slack) {
        add("svg-text-outside-viewbox", el,
          `text ${px(r.left)},${px(r.top)}..${px(r.right)},${px(r.bottom)}; svg ${px(s.left)},${px(s.top)}..${px(s.right)},${px(s.bottom)}`);
      }
      const m = el.getScreenCTM();
      const size = parseFloat(style(el).fontSize) * Math.hypot(m.a, m.b);
      if (size < minFont) add("text-too-small", el, `${px(size)} px on screen`);
    } else {
      const size = parseFloat(style(el).fontSize);
      if (size < minFont) add("text-too-small", el, `${px(size)} px`);
      // A box whose content is wider than the box spills over or is cut.
      if (style(el).display !== "inline" && !isScroller(el) && el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0) {
        add("text-overflows-box", el, `scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth}`);
      }
    }
  }

  // Tables sit in a sideways scroller that itself fits on the screen.
  for (const t of document.querySelectorAll("table")) {
    const s = ancestor(t, isScroller);
    if (!s) {
      add("table-not-in-scroller", t, `table ${px(t.getBoundingClientRect().width)} px wide`);
      continue;
    }
    const r = s.getBoundingClientRect();
    if (r.right > W + slack) add("scroller-off-screen", s, `right ${px(r.right)} > ${W}`);
  }

  // Tick labels of one axis do not run into each other.
  const byParent = new Map();
  for (const el of document.querySelectorAll(".tick")) {
    if (!rendered(el) || !ownText(el)) continue;
    if (!byParent.has(el.parentNode)) byParent.set(el.parentNode, []);
    byParent.get(el.parentNode).push(el);
  }
  for (const ticks of byParent.values()) {
    const rs = ticks.map((t) => t.getBoundingClientRect());
    for (let i = 0; i < rs.length; i++) {
      for (let j = i + 1; j < rs.length; j++) {
        const a = rs[i], b = rs[j];
        if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) {
          add("ticks-overlap", ticks[i], `"${ticks[i].textContent.trim()}" and "${ticks[j].textContent.trim()}"`);
        }
      }
    }
  }
  // No two pieces of text overlap (measured on the text itself, not on
  // the boxes around it).
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (n.textContent.trim() === "" || !el || !rendered(el) || el.closest("script,style,title")) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    for (const r of range.getClientRects()) {
      if (r.width > 0 && r.height > 0) texts.push({ el, r });
    }
  }
  texts.sort((a, b) => a.r.top - b.r.top);
  for (let i = 0; i < texts.length; i++) {
    const a = texts[i];
    for (let j = i + 1; j < texts.length && texts[j].r.top < a.r.bottom - 1; j++) {
      const b = texts[j];
      if (a.el === b.el) continue;
      // Overlap by more than a pixel each way (line boxes of adjacent
      // lines may touch).
      if (a.r.left < b.r.right - 1 && b.r.left < a.r.right - 1 && a.r.top < b.r.bottom - 2 && b.r.top < a.r.bottom - 2) {
        add("text-overlaps", a.el, `"${a.el.textContent.trim().slice(0, 30)}" and "${b.el.textContent.trim().slice(0, 30)}" (${where(b.el)})`);
      }
    }
  }
  return { width: W, height: document.documentElement.scrollHeight, problems };
})()
