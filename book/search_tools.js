/* The book's additions to Sphinx's search (searchtools.js), written into language_data.js by
   book/_ext/book_assets.py, which the search page loads right after searchtools.js. */

/* Glossary entries after the pages.  A glossary term is also an index entry, and Sphinx
   scores an index entry that merely contains the query (100 x the share of the entry the
   query covers: "attention" in "attention weights" scores 53) far above a page that uses the
   word (5, or 15 in a title), so a search for "attention" listed seven glossary entries before
   any chapter.  An entry the query names exactly keeps its score; the others go last. */
Scorer.score = (result) => {
  const anchor = result[2], score = result[4];
  return anchor && anchor.startsWith("#term-") && score < 100 ? 0 : score;
};

/* Chinese queries (Chinese edition only: BOOK_SPLIT_HAN is set there).  The index holds the
   words jieba cut the pages into (the glossary's terms among them); a query is cut the same
   way, into the fewest words the index holds, so that 查询和键 searches for 查询 and 键 (和 is
   a stopword) and 自注意力 for itself.  A character no page holds stays a word of its own
   (and finds nothing, as Sphinx does for an unknown English word). */
if (typeof BOOK_SPLIT_HAN !== "undefined") {
  var splitQuery = (query) => {
    const index = (typeof Search !== "undefined" && Search._index) || {};
    const holds = (table, w) => {  // a file number or a non-empty list of them
      const files = table && Object.prototype.hasOwnProperty.call(table, w) ? table[w] : [];
      return typeof files === "number" || files.length > 0;
    };
    const known = (w) => stopwords.indexOf(w) !== -1
      || holds(index.terms, w) || holds(index.titleterms, w);
    const cut = (run) => {
      if (known(run)) return [run];
      const cost = [0], from = [0];
      for (let i = 1; i <= run.length; i++) {
        cost[i] = Infinity;
        for (let j = Math.max(0, i - 12); j < i; j++) {
          const piece = run.slice(j, i);
          const c = cost[j] + (known(piece) ? 1 : i - j === 1 ? 100 : Infinity);
          if (c < cost[i]) { cost[i] = c; from[i] = j; }
        }
      }
      const words = [];
      for (let i = run.length; i > 0; i = from[i]) words.unshift(run.slice(from[i], i));
      return words;
    };
    const words = [];
    query.split(/[^\p{Letter}\p{Number}_\p{Emoji_Presentation}]+/gu).forEach((part) => {
      (part.match(/\p{Script=Han}+|[^\p{Script=Han}]+/gu) || []).forEach((run) => {
        words.push(...(/\p{Script=Han}/u.test(run) ? cut(run) : [run]));
      });
    });
    return words.filter((w) => w);
  };
}
