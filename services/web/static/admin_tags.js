(function () {
  const data = JSON.parse(document.getElementById('page-data').textContent);
  const { csrf, words } = data;
  async function send(method, url, body) {
    const reply = await fetch(url, { method, credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body) });
    return [reply.ok, await reply.json()];
  }
  function showImpact(shown, body) {
    shown.className = shown.className.split(' ')[0] + ' notice';
    const lines = body.audiences.map((a) => `${a.title}: ${words.eligible} ${a.eligible_before} → ${a.eligible_after}, ${words.undetermined} ${a.undetermined_before} → ${a.undetermined_after}`);
    lines.push(`${words.changed}: ${body.rankings.top_changed} / ${body.rankings.profiles_checked}`);
    shown.textContent = lines.join('；');
  }
  function showError(shown, body) {
    shown.className = shown.className.split(' ')[0] + ' error';
    shown.textContent = (body.field ? body.field + ': ' : '') + body.message;
  }
  // Merging: the code to merge into, tried first with a dry run.
  document.querySelectorAll('#tags .dry-run, #tags .merge').forEach((button) => button.addEventListener('click', async () => {
    const row = button.closest('tr');
    const into = row.querySelector('.into').value.trim();
    const shown = row.querySelector('.impact');
    const merge = button.classList.contains('merge');
    const [ok, body] = await send('POST', `/api/v1/tags/${row.dataset.id}/merge${merge ? '' : '/dry-run'}`, { into });
    if (!ok) { showError(shown, body); return; }
    if (merge) { location.reload(); return; }
    showImpact(shown, body);
  }));
  // A tag's weight: the tag as it is with the new weight, tried first with a dry run.
  document.querySelectorAll('#tags .weight-dry-run, #tags .weight-save').forEach((button) => button.addEventListener('click', async () => {
    const row = button.closest('tr');
    const shown = row.querySelector('.weight-impact');
    const tag = JSON.parse(row.dataset.tag);
    tag.weight = Number(row.querySelector('.weight').value);
    const save = button.classList.contains('weight-save');
    const [ok, body] = save
      ? await send('PUT', `/api/v1/tags/${row.dataset.id}`, tag)
      : await send('POST', `/api/v1/tags/${row.dataset.id}/dry-run`, tag);
    if (!ok) { showError(shown, body); return; }
    if (save) { location.reload(); return; }
    showImpact(shown, body);
  }));
})();
