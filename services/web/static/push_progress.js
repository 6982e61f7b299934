(function () {
  const data = JSON.parse(document.getElementById('page-data').textContent);
  const { words } = data;
  async function poll() {
    const reply = await fetch(`/api/v1/pushes/${data.id}`, { credentials: 'same-origin' });
    if (!reply.ok) return;
    const push = await reply.json();
    const inbox = (push.deliveries && push.deliveries.inbox) || {};
    const done = (inbox.delivered || 0) + (inbox.dropped || 0);
    document.getElementById('progress').max = Math.max(push.audience_count, 1);
    document.getElementById('progress').value = done;
    document.getElementById('delivered').textContent = done;
    document.getElementById('audience').textContent = push.audience_count;
    document.getElementById('status').textContent = words[push.status] || push.status;
    for (const row of document.querySelectorAll('#channels tr[data-channel]')) {
      const c = (push.deliveries && push.deliveries[row.dataset.channel]) || {};
      const n = (key) => c[key] || 0;
      const counts = {
        planned: n('queued') + n('sending') + n('delivered') + n('dropped') + n('failed') + n('cancelled'),
        delivered: n('delivered'),
        read: n('read'),
        pending: n('queued') + n('sending'),
        failed: n('failed'),
        dropped: n('dropped'),
        cancelled: n('cancelled'),
      };
      for (const cell of row.querySelectorAll('td[data-count]')) cell.textContent = counts[cell.dataset.count];
    }
    if (push.status === 'planning' || push.status === 'sending') setTimeout(poll, 500);
    else { const form = document.getElementById('cancel-form'); if (form) form.remove(); }
  }
  poll();
})();
