(function () {
  const data = JSON.parse(document.getElementById('page-data').textContent);
  // The operators come from the matcher, so the builder offers exactly what a save accepts.
  const { policy, csrf, words, fields, ops } = data;
  const box = document.getElementById('condition');
  const shown = document.getElementById('validation');
  const builder = document.getElementById('builder');

  // The visual builder: groups (all / any / not) of leaves {field, op, value}, kept in step with the JSON.
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.assign(node, attrs || {});
    (children || []).forEach((c) => node.append(c));
    return node;
  }
  function select(options, value, label, onchange) {
    const s = el('select', { ariaLabel: label, onchange: () => onchange(s.value) });
    options.forEach((o) => s.append(el('option', { value: o, textContent: o, selected: o === value })));
    return s;
  }
  function parseValue(text) { try { return JSON.parse(text); } catch (e) { return text; } }
  function render(node, replace) {
    if (node === null || node === undefined) {
      return el('button', { type: 'button', textContent: '+ ' + words.add_condition,
        onclick: () => replace({ all: [{ field: fields[0], op: 'eq', value: '' }] }) });
    }
    const kind = ['all', 'any', 'not'].find((k) => k in node);
    if (kind) {
      const children = kind === 'not' ? [node.not] : node[kind];
      const group = el('div', { className: 'group' });
      group.append(select(['all', 'any', 'not'], kind, words.group_kind, (next) => {
        const items = kind === 'not' ? [node.not] : node[kind];
        replace(next === 'not' ? { not: items[0] } : { [next]: items });
      }));
      children.forEach((child, i) => group.append(render(child, (updated) => {
        if (kind === 'not') { replace({ not: updated }); return; }
        const items = node[kind].slice();
        if (updated === null) items.splice(i, 1); else items[i] = updated;
        replace({ [kind]: items });
      })));
      if (kind !== 'not') {
        group.append(el('button', { type: 'button', textContent: '+ ' + words.add_condition,
          onclick: () => replace({ [kind]: node[kind].concat([{ field: fields[0], op: 'eq', value: '' }]) }) }));
        group.append(el('button', { type: 'button', textContent: '+ ' + words.add_group,
          onclick: () => replace({ [kind]: node[kind].concat([{ any: [] }]) }) }));
      }
      return group;
    }
    const leaf = el('div', { className: 'leaf' });
    leaf.append(select(fields, node.field, words.field, (v) => replace({ ...node, field: v })));
    leaf.append(select(ops, node.op, words.op, (v) => replace({ ...node, op: v })));
    const value = el('input', { type: 'text', className: 'value', ariaLabel: words.value, value: JSON.stringify(node.value) });
    value.addEventListener('change', () => replace({ ...node, value: parseValue(value.value) }));
    leaf.append(value);
    leaf.append(el('button', { type: 'button', textContent: '×', title: words.remove, onclick: () => replace(null) }));
    return leaf;
  }
  function draw() {
    let tree;
    try { tree = JSON.parse(box.value); } catch (e) { builder.textContent = words.bad_json; return; }
    builder.replaceChildren(render(tree, (updated) => {
      box.value = JSON.stringify(updated, null, 2);
      draw();
      validate();
    }));
  }

  function content() {
    const next = JSON.parse(JSON.stringify(policy));
    next.title = document.getElementById('title').value;
    next.summary = document.getElementById('summary').value;
    next.interpretation.key_points = document.getElementById('key_points').value.split('\n').map((s) => s.trim()).filter(Boolean);
    next.qa = document.getElementById('qa').value.split('\n').filter((l) => l.includes('|'))
      .map((l) => ({ question: l.split('|')[0].trim(), answer: l.split('|').slice(1).join('|').trim() }));
    next.benefit_items = JSON.parse(document.getElementById('benefit_items').value);
    next.applicability.condition = JSON.parse(box.value);
    next.status = document.getElementById('lifecycle').value;
    return next;
  }
  async function send(method, url, body) {
    return fetch(url, { method, credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body) });
  }
  async function validate() {
    let next;
    try { next = content(); } catch (e) { shown.className = 'error'; shown.textContent = words.bad_json + ': ' + e.message; return null; }
    const reply = await send('POST', '/api/v1/policies/check', next);
    const body = await reply.json();
    if (reply.ok) { shown.className = 'notice'; shown.textContent = words.valid; return next; }
    shown.className = 'error';
    shown.textContent = (body.field ? body.field + ': ' : '') + (words.lang === 'en' ? body.message_en : body.message);
    return null;
  }
  async function save(publish) {
    if (publish) document.getElementById('lifecycle').value = 'published';
    const next = await validate();
    if (!next) return;
    const saved = await send('PUT', `/api/v1/policies/${data.id}`, next);
    const body = await saved.json();
    if (!saved.ok) { shown.className = 'error'; shown.textContent = (body.field ? body.field + ': ' : '') + body.message; return; }
    Object.assign(policy, body);
    document.getElementById('policy-status').textContent = body.status;
    shown.className = 'notice'; shown.textContent = words.saved;
    if (body.status === 'published') {
      const audience = await (await fetch(`/api/v1/policies/${data.id}/audience`, { credentials: 'same-origin' })).json();
      document.getElementById('audience').textContent = words.audience + ': ' + audience.eligible + ' / ' + words.undetermined + ': ' + audience.undetermined;
    }
  }
  let timer;
  document.getElementById('editor').addEventListener('submit', (event) => event.preventDefault());
  document.querySelectorAll('#editor input, #editor textarea, #editor select').forEach((input) =>
    input.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(validate, 300); }));
  box.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => { draw(); validate(); }, 300); });
  document.getElementById('save').addEventListener('click', () => save(false));
  document.getElementById('publish').addEventListener('click', () => save(true));
  draw();
  validate();
})();
