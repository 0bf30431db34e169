/// The inline stylesheet and script of the HTML reports; the page's CSP allows exactly these by hash.
enum HTMLAssets {
    // Tables scroll sideways inside `.scroll` on narrow screens instead of squeezing columns; digests are shown
    // shortened by CSS only, so selecting or copying a `<code>` always yields the full value.
    static let style = #"""

        :root{--fg:#1b1f24;--muted:#57606a;--bg:#fff;--panel:#f6f8fa;--line:#d0d7de;--ok:#1a7f37;--ok-bg:#dafbe1;
        --drift:#9a6700;--drift-bg:#fff3c4;--fail:#cf222e;--fail-bg:#ffebe9;--info:#0969da;--info-bg:#ddf4ff;
        --dry:#6e7781;--dry-bg:#eaeef2;color-scheme:light dark}
        @media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#8d96a0;--bg:#0d1117;--panel:#161b22;
        --line:#30363d;--ok:#3fb950;--ok-bg:#12261e;--drift:#d29922;--drift-bg:#2e2412;--fail:#f85149;
        --fail-bg:#3a1618;--info:#58a6ff;--info-bg:#121d2f;--dry:#8d96a0;--dry-bg:#21262d}}
        *{box-sizing:border-box}
        body{margin:0 auto;padding:1rem 1.25rem 3rem;max-width:1600px;font:15px/1.45 system-ui,-apple-system,
        "Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}
        h1{font-size:1.45rem;margin:.2rem 0 .5rem;word-break:break-all}
        h2{font-size:1.15rem;margin:1.75rem 0 .5rem;padding-bottom:.25rem;border-bottom:1px solid var(--line)}
        code{font:.86em/1.3 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
        .facts,.hint,small{color:var(--muted)}
        .note{padding:.5rem .75rem;background:var(--dry-bg);border-radius:6px}
        .badge{display:inline-block;padding:.15rem .65rem;border-radius:2rem;font-weight:600;border:1px solid}
        .status-ok{color:var(--ok);background:var(--ok-bg)}
        .status-drift{color:var(--drift);background:var(--drift-bg)}
        .status-failed{color:var(--fail);background:var(--fail-bg)}
        .status-running{color:var(--info);background:var(--info-bg)}
        .status-interrupted,.status-dry{color:var(--dry);background:var(--dry-bg)}
        .counts{display:flex;flex-wrap:wrap;gap:.5rem;list-style:none;padding:0;margin:1rem 0}
        .count{min-width:7.5rem;padding:.45rem .75rem;border:1px solid var(--line);border-radius:6px;
        background:var(--panel)}
        .count .n{display:block;font-size:1.3rem;font-weight:700}
        .count.drift{border-color:var(--drift);background:var(--drift-bg)}
        .count.failed{border-color:var(--fail);background:var(--fail-bg)}
        .count.deferred{border-color:var(--drift)}
        .count.zero .n{color:var(--muted)}
        .scroll{overflow-x:auto;-webkit-overflow-scrolling:touch;border:1px solid var(--line);border-radius:6px}
        table{border-collapse:collapse;width:100%}
        th,td{padding:.4rem .6rem;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
        th{background:var(--panel);white-space:nowrap;position:sticky;top:0}
        tbody tr:last-child td{border-bottom:0}
        td.ref{min-width:17rem}
        td.ref code{overflow-wrap:anywhere}
        td.error{min-width:16rem}
        .same{color:var(--muted)}
        td.num{text-align:right;white-space:nowrap}
        td.nowrap{white-space:nowrap}
        tr.row.drift{background:var(--drift-bg)}
        tr.row.drift td:first-child{box-shadow:inset 4px 0 var(--drift)}
        tr.row.failed{background:var(--fail-bg)}
        tr.row.failed td:first-child{box-shadow:inset 4px 0 var(--fail)}
        .outcome{font-weight:600;white-space:nowrap}
        .outcome.drift{color:var(--drift)}
        .outcome.failed{color:var(--fail)}
        .outcome.pulled,.outcome.updated,.outcome.pushed{color:var(--ok)}
        .outcome.up-to-date{color:var(--muted)}
        .outcome.deferred{color:var(--drift)}
        .error{color:var(--fail);word-break:break-word}
        .tag{font-size:.75em;padding:0 .35rem;border:1px solid var(--line);border-radius:1rem;color:var(--muted)}
        .digest{white-space:nowrap}
        .digest code{display:inline-block;max-width:20ch;overflow:hidden;text-overflow:ellipsis;vertical-align:bottom}
        button.copy{margin-left:.25rem;padding:0 .4rem;font-size:.75em;cursor:pointer;color:inherit;
        background:var(--panel);border:1px solid var(--line);border-radius:4px}
        button.sort{all:inherit;cursor:pointer;padding:0}
        button.sort:after{content:" ↕";color:var(--muted)}
        th[aria-sort=ascending] button.sort:after{content:" ↑";color:inherit}
        th[aria-sort=descending] button.sort:after{content:" ↓";color:inherit}
        button:focus-visible{outline:2px solid var(--info);outline-offset:2px}
        ol.attempts,ul.plain{margin:0;padding-left:1.1rem}
        ul.plain{list-style:none;padding:0}
        details summary{cursor:pointer}
        .nojs .js-only{display:none}
        @media (max-width:640px){body{padding:.75rem .6rem 2rem;font-size:14px}h1{font-size:1.2rem}
        .count{min-width:6rem;flex:1 1 40%}th,td{padding:.35rem .45rem}
        td.ref{min-width:10rem}td.error{min-width:12rem}}

        """#

    // Plain ES2015, no libraries. Sorting is stable (Array.prototype.sort is since ES2019) and kept in the URL
    // fragment (`#sort=bytes` or `#sort=-bytes`), so a sorted view can be bookmarked or shared.
    static let script = #"""

        (function () {
          'use strict';
          var root = document.documentElement;
          root.classList.remove('nojs');
          root.classList.add('js');

          function flash(button, text) {
            button.textContent = text;
            setTimeout(function () { button.textContent = 'Copy'; }, 1500);
          }
          function selectFallback(button) {
            var code = button.parentNode.querySelector('code');
            var range = document.createRange();
            range.selectNodeContents(code);
            var selection = window.getSelection();
            selection.removeAllRanges();
            selection.addRange(range);
            var copied = false;
            try { copied = document.execCommand('copy'); } catch (e) { copied = false; }
            flash(button, copied ? 'Copied' : 'Press Ctrl+C');
          }
          // One listener for every copy button (a report can have tens of thousands); they are `js-only`, shown by
          // the root's class alone, so opening a big report touches no button.
          document.addEventListener('click', function (event) {
            var button = event.target && event.target.closest ? event.target.closest('button.copy') : null;
            if (!button) { return; }
            var text = button.getAttribute('data-copy');
            if (navigator.clipboard && window.isSecureContext) {
              navigator.clipboard.writeText(text).then(function () { flash(button, 'Copied'); },
                                                       function () { selectFallback(button); });
            } else {
              selectFallback(button);
            }
          });

          function cellValue(row, index, numeric) {
            var cell = row.cells[index];
            if (!cell) { return numeric ? 0 : ''; }
            var text = cell.hasAttribute('data-value') ? cell.getAttribute('data-value') : cell.textContent;
            return numeric ? (parseFloat(text) || 0) : text.trim().toLowerCase();
          }
          // Each row's key is read from the DOM once, not in every comparison, and the rows go back in one
          // fragment: a 20,000-row table sorts in well under a second. Ties keep their current order.
          function sortTable(table, index, descending) {
            var headers = table.tHead.rows[0].cells;
            var numeric = headers[index].getAttribute('data-type') === 'number';
            var body = table.tBodies[0];
            var rows = body.rows;
            var keyed = new Array(rows.length);
            for (var i = 0; i < rows.length; i++) {
              keyed[i] = { key: cellValue(rows[i], index, numeric), row: rows[i], position: i };
            }
            keyed.sort(function (a, b) {
              var order = a.key < b.key ? -1 : (a.key > b.key ? 1 : 0);
              return (descending ? -order : order) || a.position - b.position;
            });
            var fragment = document.createDocumentFragment();
            for (var j = 0; j < keyed.length; j++) { fragment.appendChild(keyed[j].row); }
            body.appendChild(fragment);
            Array.prototype.forEach.call(headers, function (th) { th.removeAttribute('aria-sort'); });
            headers[index].setAttribute('aria-sort', descending ? 'descending' : 'ascending');
          }
          function columnIndex(table, key) {
            var headers = table.tHead.rows[0].cells;
            for (var i = 0; i < headers.length; i++) {
              if (headers[i].getAttribute('data-key') === key) { return i; }
            }
            return -1;
          }

          var tables = document.querySelectorAll('table.sortable');
          Array.prototype.forEach.call(tables, function (table) {
            Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
              var button = document.createElement('button');
              button.type = 'button';
              button.className = 'sort';
              while (th.firstChild) { button.appendChild(th.firstChild); }
              th.appendChild(button);
              button.addEventListener('click', function () {
                var descending = th.getAttribute('aria-sort') === 'ascending';
                sortTable(table, index, descending);
                try {
                  history.replaceState(null, '', '#sort=' + (descending ? '-' : '') + th.getAttribute('data-key'));
                } catch (e) { /* file:// in some browsers */ }
              });
            });
          });

          var match = /^#sort=(-?)([a-z]+)$/.exec(window.location.hash);
          if (match) {
            Array.prototype.forEach.call(tables, function (table) {
              var index = columnIndex(table, match[2]);
              if (index >= 0) { sortTable(table, index, match[1] === '-'); }
            });
          }
        })();

        """#
}
