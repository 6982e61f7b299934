// The taxonomy page: every change (labels, synonyms, weight, retiring; a new code; a merge) is
// first tried with its dry run, which names the policies it touches with their audiences before
// and after and the rankings that rise and fall; only then is a confirm button offered.
(function () {
  const data = JSON.parse(document.getElementById('page-data').textContent);
  const { csrf, words, dimension } = data;
  async function send(method, url, body) {
    const reply = await fetch(url, { method, credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body) });
    return [reply.ok, reply.status === 204 ? {} : await reply.json()];
  }
  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (className) node.className = className;
    return node;
  }
  function moves(title, list) {
    const section = element('div');
    section.append(element('h4', title));
    const ul = element('ul');
    if (!list.length) ul.append(element('li', words.none));
    list.slice(0, 10).forEach((m) => ul.append(element('li', `${m.title}（${m.profiles} ${words.profiles}）`)));
    section.append(ul);
    return section;
  }
  function showError(shown, body) {
    shown.className = 'impact error';
    shown.textContent = (body.field ? body.field + ': ' : '') + body.message;
  }
  // Shows a dry run and the button that makes the change, naming what it touches.
  function offer(shown, impact, action, commit) {
    shown.className = 'impact notice';
    shown.replaceChildren();
    const audiences = impact.audiences || [];
    const named = audiences.length
      ? `${words.affects} ${audiences.length} ${words.policies_count}：`
      : words.no_policies;
    shown.append(element('p', named, 'affected-summary'));
    const ul = element('ul', undefined, 'affected');
    audiences.forEach((a) => ul.append(element('li',
      `${a.title}：${words.eligible} ${a.eligible_before} → ${a.eligible_after}，${words.undetermined} ${a.undetermined_before} → ${a.undetermined_after}`)));
    shown.append(ul);
    const r = impact.rankings;
    if (r) {
      shown.append(element('p', `${words.changed}: ${r.top_changed} / ${r.profiles_checked}`));
      shown.append(moves(words.rising, r.rising), moves(words.falling, r.falling));
    }
    const confirm = element('button', `${words.confirm} ${action}`, 'primary confirm');
    confirm.type = 'button';
    confirm.addEventListener('click', async () => {
      const [ok, body] = await commit();
      if (!ok) { showError(shown, body); return; }
      location.reload();
    });
    shown.append(element('p', audiences.length
      ? `${action}：${audiences.map((a) => a.title).join('、')}` : action, 'confirm-names'), confirm);
  }
  function edited(row) {
    const tag = JSON.parse(row.dataset.tag);
    tag.label_zh = row.querySelector('.label_zh').value.trim();
    tag.label_en = row.querySelector('.label_en').value.trim();
    tag.synonyms = row.querySelector('.synonyms').value.split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
    tag.weight = Number(row.querySelector('.weight').value);
    tag.status = row.querySelector('.status').value;
    return tag;
  }
  for (const row of document.querySelectorAll('#tags tr[data-id]')) {
    const shown = row.querySelector('.impact');
    if (!shown) continue;
    const id = row.dataset.id;
    // Each dry run clears the last one first, so a confirm button always belongs to the change
    // just tried.
    const clear = () => { shown.className = 'impact'; shown.replaceChildren(); };
    row.querySelector('.edit-dry-run').addEventListener('click', async () => {
      clear();
      const tag = edited(row);
      const [ok, body] = await send('POST', `/api/v1/tags/${id}/dry-run`, tag);
      if (!ok) { showError(shown, body); return; }
      const action = tag.status === 'retired' && JSON.parse(row.dataset.tag).status !== 'retired' ? words.retire : words.save_tag;
      offer(shown, body, action, () => send('PUT', `/api/v1/tags/${id}`, tag));
    });
    // A new code moves no audience: its dry run lists the policies saved again with it.
    row.querySelector('.rename-dry-run').addEventListener('click', async () => {
      clear();
      const code = row.querySelector('.new-code').value.trim();
      const [ok, body] = await send('POST', `/api/v1/tags/${id}/dry-run`, JSON.parse(row.dataset.tag));
      if (!ok) { showError(shown, body); return; }
      offer(shown, { audiences: body.audiences }, `${words.rename_to} ${code}`,
        () => send('POST', `/api/v1/tags/${id}/rename`, { code }));
    });
    const merge = row.querySelector('.merge-dry-run');
    if (merge) merge.addEventListener('click', async () => {
      clear();
      const into = row.querySelector('.into').value.trim();
      const [ok, body] = await send('POST', `/api/v1/tags/${id}/merge/dry-run`, { into });
      if (!ok) { showError(shown, body); return; }
      offer(shown, body, `${words.merge_to} ${into}`, () => send('POST', `/api/v1/tags/${id}/merge`, { into }));
    });
  }
  document.getElementById('new-tag').addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = (field) => document.getElementById(field).value.trim();
    const tag = {
      dimension, code: value('new-code'), label_zh: value('new-label-zh'), label_en: value('new-label-en'),
      synonyms: value('new-synonyms').split(/[,，、]/).map((s) => s.trim()).filter(Boolean),
      parent_code: value('new-parent') || null,
    };
    const [ok, body] = await send('POST', '/api/v1/tags', tag);
    const shown = document.getElementById('new-tag-result');
    if (!ok) { shown.className = 'error'; shown.textContent = (body.field ? body.field + ': ' : '') + body.message; return; }
    location.reload();
  });
})();
