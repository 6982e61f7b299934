// Suggestions from a policy document (#20): uploads the file to POST /api/v1/documents/suggest,
// shows the 原文 with the span a suggestion quotes highlighted, and lets the administrator accept
// or reject each one. An accepted condition leaf is handed to the editor's builder
// (admin_policy.js) as a `policy-editor:add-condition` event; accepted catalogue fields (title,
// 文号, 发文机关, dates) and the document's text as 原文 as `policy-editor:set` events. Conditions read in the editor's own words: field labels, operators and code names.
// Nothing is saved until the editor's own save.
(function () {
  const { csrf, words } = JSON.parse(document.getElementById('doc-data').textContent);
  const editor = JSON.parse(document.getElementById('page-data').textContent);
  const fieldOf = Object.fromEntries(editor.fields.map((f) => [f.key, f]));
  const opWords = Object.fromEntries(editor.ops);
  const codeNames = Object.fromEntries(editor.regions.concat(editor.industries));
  const status = document.getElementById('doc-status');
  const panel = document.getElementById('doc-panel');
  const textBox = document.getElementById('doc-text');
  const useText = document.getElementById('doc-use-text');
  let chars = [];

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.assign(node, attrs || {});
    (children || []).forEach((c) => node.append(c));
    return node;
  }

  // Character offsets (code points) index the 原文 as the API counted it.
  function highlight(span) {
    if (!span) { textBox.replaceChildren(chars.join('')); return; }
    const mark = el('mark', { textContent: chars.slice(span.char_start, span.char_end).join('') });
    textBox.replaceChildren(chars.slice(0, span.char_start).join(''), mark, chars.slice(span.char_end).join(''));
    mark.scrollIntoView({ block: 'nearest' });
  }

  function setField(field, value) {
    document.dispatchEvent(new CustomEvent('policy-editor:set', { detail: { field, value } }));
  }

  function addLeaf(leaf) {
    const node = { field: leaf.field, op: leaf.op, value: leaf.value };
    const item = leaf.negated ? { not: node } : node;
    document.dispatchEvent(new CustomEvent('policy-editor:add-condition', { detail: item }));
  }

  // One row: what is suggested, where it stands, and accept / reject when it can be applied here.
  function row(summary, suggestion, apply) {
    const item = el('li');
    const quote = suggestion.span ? el('span', { className: 'quote', textContent: `「${suggestion.span.text}」` }) : '';
    const where = suggestion.clause ? ` ${words.clause} ${suggestion.clause}` : '';
    const confidence = ` · ${words.confidence} ${Math.round(suggestion.confidence * 100)}%`;
    item.append(el('strong', { textContent: summary }), ' ', quote, el('small', { textContent: where + confidence }));
    if (suggestion.span) {
      item.append(el('button', { type: 'button', className: 'show', textContent: words.show, onclick: () => highlight(suggestion.span) }));
      item.addEventListener('mouseenter', () => highlight(suggestion.span));
    }
    if (apply) {
      const accept = el('button', { type: 'button', className: 'accept', textContent: words.accept });
      const reject = el('button', { type: 'button', className: 'reject', textContent: words.reject });
      const settle = (accepted) => {
        if (accepted) apply();
        item.className = accepted ? 'accepted' : 'rejected';
        accept.remove();
        reject.remove();
        item.append(el('small', { textContent: ' ' + (accepted ? words.accepted : words.rejected) }));
      };
      accept.onclick = () => settle(true);
      reject.onclick = () => settle(false);
      item.append(accept, reject);
    }
    return item;
  }

  function fill(list, rows) {
    const target = document.getElementById(list);
    target.replaceChildren(...(rows.length ? rows : [el('li', { textContent: words.none })]));
  }

  // A value as the builder would show it: codes by name, enum values by label, lists with 、.
  function valueWords(field, value) {
    if (Array.isArray(value)) return value.map((v) => valueWords(field, v)).join('、');
    const named = field && field.values ? Object.fromEntries(field.values) : {};
    if (typeof value === 'boolean') return value ? editor.words.yes : editor.words.no;
    return named[String(value)] || codeNames[String(value)] || String(value);
  }

  function leafSummary(leaf) {
    const field = fieldOf[leaf.field];
    const name = field ? field.label : leaf.label;
    const rule = `${name} ${opWords[leaf.op] || leaf.op} ${valueWords(field, leaf.value)}`;
    return `${leaf.negated ? words.excluded + ' ' : ''}${leaf.label}：${rule}`;
  }

  function amountSummary(a) {
    const figure = a.rate !== undefined ? `${words.rate} ${Math.round(a.rate * 1000) / 10}%`
      : a.cap !== undefined ? `${words.cap} ${a.cap}${a.unit || ''}`
        : a.floor !== undefined ? `${words.floor} ${a.floor}${a.unit || ''}`
          : `${a.value}${a.unit || ''}`;
    return `${words[a.kind] || a.kind}: ${figure}${a.period ? ' / ' + (words[a.period] || a.period) : ''}`;
  }

  function metaSummary(m) {
    const value = m.field === 'audience' ? (words[m.value] || m.value) : m.value;
    return `${words[m.field] || m.field}: ${value}`;
  }

  function show(reply) {
    chars = Array.from(reply.text);
    highlight(null);
    const s = reply.suggestions;
    fill('doc-conditions', s.conditions.map((leaf) => row(leafSummary(leaf), leaf, () => addLeaf(leaf))));
    fill('doc-amounts', s.amounts.map((a) => row(amountSummary(a), a, null)));
    fill('doc-metadata', s.metadata.map((m) => {
      const settable = ['title', 'doc_number', 'issuer', 'written_on', 'valid_from', 'valid_until'].includes(m.field);
      return row(metaSummary(m), m, settable ? () => setField(m.field, m.value) : null);
    }));
    useText.onclick = () => { setField('full_text', reply.text); useText.disabled = true; };
    useText.disabled = false;
    useText.hidden = false;
    panel.hidden = false;
    status.className = 'notice';
    status.textContent = `${words.found} ${s.conditions.length} / ${s.amounts.length} / ${s.metadata.length}`;
  }

  document.getElementById('doc-upload').addEventListener('click', async () => {
    const file = document.getElementById('doc-file').files[0];
    if (!file) { status.className = 'error'; status.textContent = words.choose; return; }
    status.className = '';
    status.textContent = words.reading;
    const reply = await fetch(`/api/v1/documents/suggest?filename=${encodeURIComponent(file.name)}`, {
      method: 'POST', credentials: 'same-origin',
      headers: { 'content-type': 'application/octet-stream', 'x-csrf-token': csrf }, body: file,
    });
    const body = await reply.json();
    if (!reply.ok) {
      status.className = 'error';
      status.textContent = `${words.failed}: ${body.message}`;
      return;
    }
    show(body);
  });
})();
