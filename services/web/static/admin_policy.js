(function () {
  // The policy editor: every catalogue field, 原文, 解读, Q&A and benefit items as forms, a
  // condition builder in words, the audience as you edit, and publishing through a
  // confirmation. What is sent is built from the forms alone, never the stored record, so its
  // bookkeeping fields (id, version, created_at) never go back to the server.
  const data = JSON.parse(document.getElementById('page-data').textContent);
  const { csrf, words, fields, regions, industries } = data;
  const ops = Object.fromEntries(data.ops);
  const doc = JSON.parse(JSON.stringify(data.policy));
  const $ = (id) => document.getElementById(id);
  const shown = $('validation');

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    Object.assign(node, attrs || {});
    (children || []).forEach((c) => node.append(c));
    return node;
  }
  function labelled(text, input) { return el('label', {}, [text + ' ', input]); }
  function options(select, pairs, value) {
    pairs.forEach(([code, name]) => select.append(el('option', { value: code, textContent: name, selected: code === value })));
    return select;
  }
  function button(text, onclick) { return el('button', { type: 'button', textContent: text, onclick }); }
  let changed = () => {};

  // Repeatable lists: each entry is drawn by `draw(entry, index, list)` with a remove button.
  function repeatable(box, list, draw, fresh, addButton) {
    function render() {
      box.replaceChildren(...list.map((entry, i) => {
        const row = el('div', { className: 'row' });
        draw(row, entry, i, list);
        row.append(button('×', () => { list.splice(i, 1); render(); changed(); }));
        row.lastChild.title = words.remove;
        row.lastChild.ariaLabel = words.remove;
        return row;
      }));
    }
    addButton.addEventListener('click', () => { list.push(fresh()); render(); changed(); });
    render();
    return render;
  }
  function textInput(label, value, set, type) {
    const input = el('input', { type: type || 'text', value: value == null ? '' : value });
    input.addEventListener('input', () => { set(input.value); changed(); });
    return labelled(label, input);
  }

  options($('region_code'), regions, doc.region_code);
  const drawDepartments = repeatable($('departments'), doc.issuing_departments,
    (row, _, i, list) => row.append(textInput(words.ed_departments + ' ' + (i + 1), list[i], (v) => { list[i] = v; })),
    () => '', $('add-department'));
  repeatable($('key-points'), doc.interpretation.key_points,
    (row, _, i, list) => row.append(textInput(words.ed_key_point + ' ' + (i + 1), list[i], (v) => { list[i] = v; })),
    () => '', $('add-key-point'));
  repeatable($('qa'), doc.qa, (row, pair) => {
    row.append(textInput(words.ed_question, pair.question, (v) => { pair.question = v; }));
    row.append(textInput(words.ed_answer, pair.answer, (v) => { pair.answer = v; }));
  }, () => ({ question: '', answer: '' }), $('add-qa'));

  const numericFields = fields.filter((f) => f.kind === 'number').map((f) => [f.key, f.label]);
  function amountEditor(item) {
    const box = el('div', { className: 'row' });
    function draw() {
      const a = item.amount;
      const kind = el('select');
      options(kind, [['', words.ed_amount_none], ['fixed', words.ed_amount_fixed], ['rate', words.ed_amount_rate],
        ['per_head', words.ed_amount_per_head], ['range', words.ed_amount_range]], a ? a.kind : '');
      kind.addEventListener('change', () => {
        item.amount = kind.value ? { kind: kind.value } : null;
        if (kind.value === 'fixed' || kind.value === 'per_head') item.amount.value = 0;
        if (kind.value === 'rate') item.amount.rate = 0;
        if (kind.value === 'rate' || kind.value === 'per_head') item.amount.of = numericFields.length ? numericFields[0][0] : '';
        if (kind.value === 'range') { item.amount.min = 0; item.amount.max = 0; }
        draw(); changed();
      });
      box.replaceChildren(labelled(words.ed_amount_kind, kind));
      if (!a) return;
      const number = (label, key) => {
        const input = el('input', { type: 'number', step: 'any', value: a[key] == null ? '' : a[key] });
        input.addEventListener('input', () => {
          if (input.value === '') delete a[key]; else a[key] = Number(input.value);
          changed();
        });
        box.append(labelled(label, input));
      };
      const of = () => {
        const s = options(el('select'), numericFields, a.of);
        s.addEventListener('change', () => { a.of = s.value; changed(); });
        box.append(labelled(words.ed_amount_of, s));
      };
      const period = () => {
        const s = options(el('select'), [['', words.ed_amount_once], ['month', words.ed_amount_month], ['year', words.ed_amount_year]], a.per || '');
        s.addEventListener('change', () => { if (s.value) a.per = s.value; else { delete a.per; delete a.periods; } draw(); changed(); });
        box.append(labelled(words.ed_amount_per, s));
        if (a.per) number(words.ed_amount_periods, 'periods');
      };
      if (a.kind === 'fixed') { number(words.ed_amount_value, 'value'); period(); }
      if (a.kind === 'rate') { number(words.ed_amount_rate_value, 'rate'); of(); number(words.ed_amount_cap, 'cap'); }
      if (a.kind === 'per_head') { number(words.ed_amount_per_head_value, 'value'); of(); number(words.ed_amount_cap, 'cap'); period(); }
      if (a.kind === 'range') { number(words.ed_amount_min, 'min'); number(words.ed_amount_max, 'max'); period(); }
    }
    draw();
    return box;
  }
  const itemFields = [
    ['targets', words.targets], ['conditions', words.conditions], ['channel', words.channel],
    ['process', words.process], ['online_url', words.ed_online_url, 'url'], ['offline_address', words.offline_address],
    ['time_limit', words.time_limit], ['hotline', words.hotline],
    ['window_opens', words.ed_window_opens, 'date'], ['window_closes', words.ed_window_closes, 'date'],
  ];
  const optional = ['online_url', 'offline_address', 'time_limit', 'hotline', 'window_opens', 'window_closes'];
  repeatable($('items'), doc.benefit_items, (row, item, i) => {
    const box = el('fieldset', { className: 'item' }, [el('legend', { textContent: words.ed_item + ' ' + (i + 1) })]);
    box.append(textInput(words.ed_item_name, item.name, (v) => { item.name = v; }));
    itemFields.forEach(([key, label, type]) => box.append(textInput(label, item[key], (v) => {
      item[key] = v === '' && optional.includes(key) ? null : v;
    }, type)));
    const materials = el('textarea', { rows: 3, value: (item.materials || []).join('\n') });
    materials.addEventListener('input', () => {
      item.materials = materials.value.split('\n').map((s) => s.trim()).filter(Boolean);
      changed();
    });
    box.append(labelled(words.ed_materials_help, materials));
    box.append(el('p', { textContent: words.ed_amount }));
    box.append(amountEditor(item));
    row.append(box);
  }, () => ({ name: '', targets: '', conditions: '', materials: [], channel: '', process: '', online_url: null,
    offline_address: null, time_limit: null, hotline: null, window_opens: null, window_closes: null, amount: null }),
  $('add-item'));

  $('full_text_file').addEventListener('change', () => {
    const file = $('full_text_file').files[0];
    if (!file) return;
    file.text().then((text) => { $('full_text').value = text; changed(); });
  });

  // The condition builder: groups (all / any / not) of leaves {field, op, value}; each field
  // offers the operators its type supports, and its value is edited and sent in its type.
  const byKey = Object.fromEntries(fields.map((f) => [f.key, f]));
  const relative = data.ops.map(([op]) => op).filter((op) => /_(since|until)_/.test(op));
  const opsFor = {
    number: ['ge', 'le', 'gt', 'lt', 'eq', 'ne', 'between', 'in'],
    date: relative.concat(['lt', 'le', 'gt', 'ge', 'eq', 'ne', 'between']),
    region: ['within', 'within_any', 'eq', 'ne', 'in'],
    industry: ['within', 'within_any', 'eq', 'ne', 'in'],
    set: ['has', 'intersects'],
  };
  const kindOps = (kind) => opsFor[kind] || ['eq', 'ne', 'in'];
  const listOps = ['in', 'within_any', 'intersects'];
  function codesOf(field) {
    if (field.kind === 'region') return regions;
    if (field.kind === 'industry') return industries;
    if (field.kind === 'enum') return field.values;
    if (field.kind === 'bool') return [['true', words.yes], ['false', words.no]];
    return null;
  }
  function defaultValue(field, op) {
    if (listOps.includes(op)) return [];
    if (relative.includes(op)) return 1;
    if (op === 'between') return field.kind === 'date' ? ['', ''] : [0, 0];
    if (field.kind === 'number') return 0;
    if (field.kind === 'bool') return true;
    const codes = codesOf(field);
    return codes && codes.length ? codes[0][0] : '';
  }
  function freshLeaf() {
    const field = fields[0];
    const op = kindOps(field.kind)[0];
    return { field: field.key, op, value: defaultValue(field, op) };
  }
  function typed(field, text) {
    if (field.kind === 'number') return text === '' ? null : Number(text);
    if (field.kind === 'bool') return text === 'true';
    return text;
  }
  function valueEditor(node, field, set) {
    const codes = codesOf(field);
    if (relative.includes(node.op)) {
      const input = el('input', { type: 'number', min: 0, step: 1, value: node.value, ariaLabel: words.builder_value });
      input.addEventListener('input', () => set(input.value === '' ? null : Number(input.value)));
      return [input];
    }
    if (node.op === 'between') {
      const pair = Array.isArray(node.value) ? node.value.slice() : ['', ''];
      return [0, 1].map((i) => {
        const input = el('input', { type: field.kind === 'date' ? 'date' : 'number', step: 'any', value: pair[i], ariaLabel: words.builder_value + ' ' + (i + 1) });
        input.addEventListener('input', () => { pair[i] = typed(field, input.value); set(pair.slice()); });
        return input;
      });
    }
    if (listOps.includes(node.op)) {
      const list = Array.isArray(node.value) ? node.value : [];
      if (codes) {
        const s = options(el('select', { multiple: true, size: 4, ariaLabel: words.builder_value }), codes, null);
        Array.from(s.options).forEach((o) => { o.selected = list.map(String).includes(o.value); });
        s.addEventListener('change', () => set(Array.from(s.selectedOptions).map((o) => typed(field, o.value))));
        return [s];
      }
      const input = el('input', { type: 'text', value: list.join('、'), ariaLabel: words.builder_value, title: words.list_separator_help, placeholder: words.list_separator_help });
      input.addEventListener('input', () => set(input.value.split(/[、,，]/).map((s) => s.trim()).filter(Boolean).map((s) => typed(field, s))));
      return [input];
    }
    if (codes) {
      // A select can only say a code as text; a value stored otherwise (110000 typed as a
      // number) is taken as the code it names.
      if (field.kind !== 'bool' && typeof node.value !== 'string' && node.value != null) node.value = String(node.value);
      const s = options(el('select', { ariaLabel: words.builder_value }), codes, String(node.value));
      s.addEventListener('change', () => set(typed(field, s.value)));
      return [s];
    }
    const input = el('input', { type: field.kind === 'number' ? 'number' : field.kind === 'date' ? 'date' : 'text', step: 'any', value: node.value == null ? '' : node.value, ariaLabel: words.builder_value });
    input.addEventListener('input', () => set(typed(field, input.value)));
    return [input];
  }
  function render(node, replace, nested) {
    if (node === null || node === undefined) {
      return button('+ ' + words.add_condition, () => replace({ all: [freshLeaf()] }));
    }
    const kind = ['all', 'any', 'not'].find((k) => k in node);
    if (kind) {
      const children = kind === 'not' ? [node.not] : node[kind];
      const group = el('div', { className: 'group' });
      const head = el('div', { className: 'leaf' });
      const s = options(el('select', { ariaLabel: words.builder_group_kind }),
        [['all', words.group_all], ['any', words.group_any], ['not', words.group_not]], kind);
      s.addEventListener('change', () => {
        const items = kind === 'not' ? [node.not] : node[kind];
        replace(s.value === 'not' ? { not: items[0] || freshLeaf() } : { [s.value]: items.filter(Boolean) });
      });
      head.append(s);
      if (nested) head.append(Object.assign(button('×', () => replace(null)), { title: words.remove, ariaLabel: words.remove }));
      group.append(head);
      children.forEach((child, i) => group.append(render(child, (updated) => {
        if (kind === 'not') { replace({ not: updated === null ? freshLeaf() : updated }); return; }
        const items = node[kind].slice();
        if (updated === null) items.splice(i, 1); else items[i] = updated;
        replace({ [kind]: items });
      }, true)));
      if (kind !== 'not') {
        group.append(button('+ ' + words.add_condition, () => replace({ [kind]: node[kind].concat([freshLeaf()]) })));
        group.append(button('+ ' + words.add_group, () => replace({ [kind]: node[kind].concat([{ any: [freshLeaf()] }]) })));
      }
      return group;
    }
    const field = byKey[node.field] || { key: node.field, label: node.field, kind: 'text' };
    const leaf = el('div', { className: 'leaf' });
    const known = byKey[node.field] ? [] : [[node.field, node.field]];
    const fieldSelect = options(el('select', { ariaLabel: words.builder_field }),
      known.concat(fields.map((f) => [f.key, f.label])), node.field);
    fieldSelect.addEventListener('change', () => {
      const next = byKey[fieldSelect.value];
      const op = kindOps(next.kind).includes(node.op) ? node.op : kindOps(next.kind)[0];
      replace({ ...node, field: next.key, op, value: defaultValue(next, op) });
    });
    const allowed = kindOps(field.kind).includes(node.op) ? kindOps(field.kind) : [node.op].concat(kindOps(field.kind));
    const opSelect = options(el('select', { ariaLabel: words.builder_op }), allowed.map((op) => [op, ops[op] || op]), node.op);
    opSelect.addEventListener('change', () => replace({ ...node, op: opSelect.value, value: defaultValue(field, opSelect.value) }));
    leaf.append(fieldSelect, opSelect, ...valueEditor(node, field, (value) => { node.value = value; changed(); }));
    leaf.append(Object.assign(button('×', () => replace(null)), { title: words.remove, ariaLabel: words.remove }));
    return leaf;
  }
  function drawBuilder() {
    $('builder').replaceChildren(render(doc.applicability.condition, (updated) => {
      doc.applicability.condition = updated;
      drawBuilder();
      changed();
    }, false));
  }

  const nullable = (v) => (v === '' ? null : v);
  function content() {
    const next = JSON.parse(JSON.stringify(doc));
    ['title', 'doc_number', 'level', 'region_code', 'disclosure', 'delivery_mode', 'summary', 'full_text']
      .forEach((key) => { next[key] = $(key).value; });
    ['written_on', 'published_on', 'valid_from', 'valid_until'].forEach((key) => { next[key] = nullable($(key).value); });
    next.status = $('lifecycle').value;
    next.issuing_departments = next.issuing_departments.map((d) => d.trim()).filter(Boolean);
    next.interpretation.key_points = next.interpretation.key_points.map((d) => d.trim()).filter(Boolean);
    next.qa = next.qa.filter((p) => p.question.trim() || p.answer.trim());
    return next;
  }
  async function send(method, url, body) {
    const reply = await fetch(url, { method, credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: body === undefined ? undefined : JSON.stringify(body) });
    let json = null;
    try { json = await reply.json(); } catch (e) { json = {}; }
    return { ok: reply.ok, body: json };
  }
  function problems(list) {
    return el('ul', {}, list.map((p) => el('li', { textContent: p.message || p.message_zh })));
  }
  function statusWord(status) { return words['policy_status_' + status] || status; }

  // The audience as you edit: the unsaved content previewed, nothing stored.
  let timer;
  let asked = 0;
  async function preview() {
    timer = null;
    const mine = ++asked;
    const reply = await send('POST', `/api/v1/policies/${data.id}/publish-preview`, content());
    if (mine !== asked) return;
    const out = $('audience');
    if (!reply.ok) { out.textContent = reply.body.message || ''; return; }
    const condition = reply.body.gaps.filter((g) => g.field.startsWith('applicability') || g.field.includes('.amount'));
    // Redrawn only when what it says changes, so the page below does not move under a click.
    const said = condition.map((g) => g.message_zh).join('\n');
    const box = $('condition-problems');
    if (box.dataset.said !== said) {
      box.dataset.said = said;
      box.className = condition.length ? 'error' : '';
      box.replaceChildren(...(condition.length ? [el('p', { textContent: words.editor_condition_unfinished }), problems(condition)] : []));
    }
    const a = reply.body.audience;
    out.textContent = a ? `${words.audience_live}：${words.eligible} ${a.eligible}，${words.undetermined} ${a.undetermined}` +
      (a.in_force ? '' : `（${words.not_in_force}）`) : words.editor_condition_unfinished;
  }
  // `data-pending` on the audience line says a recount is due or under way.
  changed = () => {
    $('audience').dataset.pending = '1';
    clearTimeout(timer);
    timer = setTimeout(() => preview().finally(() => { if (!timer) delete $('audience').dataset.pending; }), 400);
  };
  document.getElementById('editor').addEventListener('submit', (event) => event.preventDefault());
  document.querySelectorAll('#editor input, #editor textarea, #editor select').forEach((input) =>
    input.addEventListener('input', changed));

  async function save() {
    const reply = await send('PUT', `/api/v1/policies/${data.id}`, content());
    shown.replaceChildren();
    if (!reply.ok) {
      shown.className = 'error';
      shown.append(el('p', { textContent: words.save_failed + '：' + reply.body.message }), problems(reply.body.errors || []));
      return null;
    }
    $('policy-status').textContent = statusWord(reply.body.status);
    $('heading').textContent = reply.body.title;
    shown.className = 'notice';
    if (reply.body.warnings) {
      shown.append(el('p', { textContent: words.draft_warnings }), problems(reply.body.warnings));
    } else {
      shown.append(el('p', { textContent: words.saved }));
    }
    return reply.body;
  }

  // Publishing: saved first, then the completeness check, the audience and a sample pack, and
  // the choice how to push. The same panel pushes a policy published without its push.
  let mode = 'publish';
  function showChoices() {
    document.querySelectorAll('#choices [data-publish]').forEach((n) => { n.hidden = mode !== 'publish'; });
    document.querySelectorAll('#choices [data-push]').forEach((n) => { n.hidden = mode === 'publish'; });
    $('choice-none-label').hidden = mode !== 'publish';
    const none = document.querySelector('#choices input[value=none]');
    const now = document.querySelector('#choices input[value=now]');
    if (mode === 'publish') none.checked = true; else now.checked = true;
  }
  async function openConfirm(nextMode) {
    $('confirm').hidden = true;
    if (!(await save())) return;
    mode = nextMode;
    const reply = await send('GET', `/api/v1/policies/${data.id}/publish-preview`);
    if (!reply.ok) { shown.className = 'error'; shown.textContent = reply.body.message; return; }
    const { gaps, publishable, audience, sample } = reply.body;
    const blocking = gaps.filter((g) => g.blocks);
    const warnings = gaps.filter((g) => !g.blocks);
    const gapBox = $('gaps');
    gapBox.replaceChildren();
    if (blocking.length) gapBox.append(el('p', { className: 'gap-block', textContent: words.publish_blocked }), problems(blocking));
    if (warnings.length) gapBox.append(el('p', { textContent: words.publish_warnings }), problems(warnings));
    if (!gaps.length) gapBox.append(el('p', { textContent: words.nothing_missing }));
    const who = $('confirm-audience');
    who.replaceChildren();
    if (audience) {
      who.append(el('p', { id: 'audience-total', textContent: `${words.eligible} ${audience.eligible}，${words.undetermined} ${audience.undetermined}` +
        (audience.include_undetermined ? words.with_undetermined : '') + (audience.in_force ? '' : `（${words.not_in_force}）`) }));
      const rows = audience.by_district.filter((d) => d.eligible || d.undetermined);
      if (rows.length) {
        const table = el('table', { id: 'audience-districts' }, [el('thead', {}, [el('tr', {}, [words.district, words.eligible, words.undetermined].map((h) => el('th', { scope: 'col', textContent: h })))])]);
        table.append(el('tbody', {}, rows.map((d) => el('tr', {}, [d.name, d.eligible, d.undetermined].map((v) => el('td', { textContent: String(v) }))))));
        who.append(table);
      }
    } else {
      who.append(el('p', { textContent: words.editor_condition_unfinished }));
    }
    const sampleBox = $('sample');
    sampleBox.replaceChildren();
    if (sample) {
      sampleBox.append(el('p', { textContent: `${words.sample_pack_for}：${sample.recipient} · ${sample.subject}` }));
      sampleBox.append(el('iframe', { title: words.ed_sample, srcdoc: sample.html, sandbox: '' }));
    } else {
      sampleBox.append(el('p', { textContent: words.no_sample }));
    }
    showChoices();
    $('confirm-go').disabled = mode === 'publish' && !publishable;
    $('confirm-result').replaceChildren();
    $('confirm').hidden = false;
    $('confirm').scrollIntoView();
  }
  function chosenTime() {
    const local = $('push-at').value;
    // The input is China time to the minute; the server takes an instant with its offset.
    return local ? local + ':00+08:00' : null;
  }
  async function confirm() {
    const choice = document.querySelector('#choices input[name=push]:checked').value;
    const at = choice === 'at' ? chosenTime() : null;
    const result = $('confirm-result');
    result.replaceChildren();
    if (choice === 'at' && !at) { result.className = 'error'; result.textContent = words.push_time_needed; return; }
    const reply = mode === 'publish'
      ? await send('POST', `/api/v1/policies/${data.id}/publish`, at ? { push: choice, at } : { push: choice })
      : await send('POST', `/api/v1/policies/${data.id}/push`, at ? { at } : {});
    if (!reply.ok) {
      result.className = 'error';
      result.append(el('p', { textContent: reply.body.message }), problems(reply.body.errors || []));
      return;
    }
    const when = at ? ' ' + $('push-at').value.replace('T', ' ') : '';
    result.className = 'notice';
    if (mode === 'publish') {
      $('policy-status').textContent = statusWord('published');
      const lifecycle = $('lifecycle');
      if (!Array.from(lifecycle.options).some((o) => o.value === 'published')) lifecycle.append(el('option', { value: 'published', textContent: statusWord('published') }));
      lifecycle.value = 'published';
      $('publish').hidden = true;
      result.textContent = choice === 'none' ? words.published_no_push : choice === 'now' ? words.published_push_now : words.published_push_at + when;
      $('push-later').hidden = choice !== 'none';
    } else {
      result.textContent = at ? words.push_queued_at + when : words.push_queued_now;
      $('push-later').hidden = true;
    }
    $('confirm-go').disabled = true;
  }
  $('save').addEventListener('click', save);
  $('publish').addEventListener('click', () => openConfirm('publish'));
  $('push-later').addEventListener('click', () => openConfirm('push'));
  $('confirm-go').addEventListener('click', confirm);
  $('confirm-cancel').addEventListener('click', () => { $('confirm').hidden = true; });
  // A condition accepted from a policy document's suggestions (policy_suggestions.js) joins
  // the tree at the top level, as one more thing a recipient must meet.
  document.addEventListener('policy-editor:add-condition', (event) => {
    const item = event.detail;
    const tree = doc.applicability.condition;
    if (tree === null || tree === undefined) doc.applicability.condition = { all: [item] };
    else if (Array.isArray(tree.all)) tree.all.push(item);
    else doc.applicability.condition = { all: [tree, item] };
    drawBuilder();
    changed();
  });
  // A catalogue field or the 原文 accepted from a policy document's suggestions: an issuer
  // fills the first empty 发文机关 (or is added), the rest fill their form field.
  document.addEventListener('policy-editor:set', (event) => {
    const { field, value } = event.detail;
    if (field === 'issuer') {
      const list = doc.issuing_departments;
      if (list.includes(value)) return;
      const blank = list.findIndex((d) => !d.trim());
      if (blank >= 0) list[blank] = value; else list.push(value);
      drawDepartments();
    } else if (['title', 'doc_number', 'written_on', 'valid_from', 'valid_until', 'full_text'].includes(field)) {
      $(field).value = value;
    } else {
      return;
    }
    changed();
  });
  drawBuilder();
  preview();
})();
