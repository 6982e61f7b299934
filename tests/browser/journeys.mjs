// Browser journeys of Policy Push in Debian's Chromium (headless), one per role:
//   node journeys.mjs enterprise <base-url> <screenshot-dir> <user> <password> <someone-else's-item-id>
//   node journeys.mjs citizen    <base-url> <screenshot-dir> <user> <password> <policy-title> <region-name>
// (a citizen on a 390 px wide phone screen: their space, not the staff console; then 我的政策,
// where the 待确认 policy's missing 户籍 region is chosen by name and the policy moves to 强相关)
//   node journeys.mjs staff      <base-url> <screenshot-dir> <user> <password> <enterprise-name>
// (staff: look the enterprise up, then run a targeted push to it and watch it complete)
//   node journeys.mjs admin      <base-url> <screenshot-dir> <user> <password> <draft-policy-id>
// (admin: break a condition leaf, see the error, fix it, publish, see the audience; open the
// analytics, dead-letter and audit pages)
//   node journeys.mjs mine       <base-url> <screenshot-dir> <user> <password> <policy-title> <fact> <short-title> <short-fact>
// (an enterprise: 我的政策 from the menu, the 待确认 policy's missing fact filled in, the policy
// then under 强相关; then the 差一项 policy's one condition short of settled the same way)
//   node journeys.mjs visitor    <base-url> <screenshot-dir> <search-words>
//   node journeys.mjs documents  <base-url> <screenshot-dir> <user> <password> <draft-policy-id> <document-file>
// (admin: upload a policy document in the editor, see a suggestion's source highlighted in the
// 原文, accept one condition into the tree, reject another, save)
// (an anonymous visitor: search the library, open a policy, run the calculator with partial facts,
// then the result again on a 390 px wide phone screen)
// Exits non-zero, with the reason, when a step fails; screenshots of each page go to the folder.
// The visitor's, 我的政策 and 我的画像 pages are checked with axe-core: no critical or serious violation;
// then every page a journey opened is opened again at 360 px wide: viewport meta, no sideways
// scroll, axe-core again. The citizen signs in from a page asked for and comes back to it; the
// visitor meets the 404 and 405 pages.
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const [role, base, shots, user, password, extra, fact, shortOf, shortFact] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });

function check(condition, message) {
  if (!condition) throw new Error(message);
}

// Runs axe-core on the page; fails on any critical or serious violation, naming each.
async function accessible(page, name) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const results = await window.axe.run(document);
    return results.violations
      .filter((v) => v.impact === 'critical' || v.impact === 'serious')
      .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
  check(violations.length === 0, `axe on ${name}: ${violations.join('; ')}`);
}

// Records every page the journey opens (documents fetched with GET; a form's answer is
// reached again through the page it redirects to), to check each again on a narrow screen.
function recordPages(page) {
  const opened = new Set();
  page.on('response', (response) => {
    const request = response.request();
    const redirect = response.status() >= 300 && response.status() < 400;
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()
        && request.method() === 'GET' && !redirect) {
      opened.add(response.url());
    }
  });
  return opened;
}

// Opens each recorded page again at 360 px wide, signed in as the journey was: a viewport meta,
// no sideways scroll, and no critical or serious axe violation.
async function narrowChecks(context, opened) {
  const narrow = await context.newPage();
  await narrow.setViewportSize({ width: 360, height: 780 });
  for (const url of opened) {
    await narrow.goto(url);
    const name = `${new URL(url).pathname}${new URL(url).search} at 360 px`;
    check(await narrow.locator('meta[name=viewport]').count() === 1, `${name}: a viewport meta`);
    const { scroll, client } = await narrow.evaluate(() => ({
      scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
    }));
    check(scroll <= client, `${name}: scrolls sideways, ${scroll} px in ${client} px`);
    await accessible(narrow, name);
  }
  await narrow.close();
}

// A signed-out visit to `path` goes to sign-in, and signing in comes back to it.
async function signInVia(page, path) {
  await page.goto(`${base}${path}`);
  const login = new URL(page.url());
  check(login.pathname === '/login' && login.searchParams.get('next') === path,
    `a signed-out visit to ${path} asks to sign in and remembers it, got ${page.url()}`);
  await page.fill('#username', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('button.primary')]);
  check(new URL(page.url()).pathname === path, `after sign-in back on ${path}, got ${page.url()}`);
}

// Unknown addresses and a form's address opened as a link are pages in the site's look; a
// broken e-mail link gets its own page.
async function errorPages(page) {
  let response = await page.goto(`${base}/no/such/page`);
  check(response.status() === 404, `an unknown page is 404, got ${response.status()}`);
  check((await page.textContent('main h1')).includes('未找到'), 'the 404 page says so');
  check(await page.locator('header a[href="/policies"]').count() === 1, 'the 404 page has the menu');
  await page.screenshot({ path: `${shots}/error-not-found.png`, fullPage: true });
  response = await page.goto(`${base}/logout`);
  check(response.status() === 405, `a form's address as a link is 405, got ${response.status()}`);
  check(await page.locator('main h1').count() === 1, 'the 405 page is a page');
  // The page behind an e-mail's link, here a broken one: also opened at 360 px below.
  response = await page.goto(`${base}/unsubscribe/not-a-token`);
  check(response.status() === 400, `a broken e-mail link is refused with a page, got ${response.status()}`);
}

async function signIn(page) {
  await page.goto(`${base}/login`);
  await page.fill('#username', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForNavigation(), page.click('button.primary')]);
}

async function enterprise(page) {
  await signIn(page);
  check(new URL(page.url()).pathname === '/inbox', `after sign-in expected /inbox, got ${page.url()}`);
  check((await page.textContent('#unread-count'))?.trim() === '1', 'one unread pack announced');
  await page.screenshot({ path: `${shots}/enterprise-inbox.png`, fullPage: true });

  await Promise.all([page.waitForNavigation(), page.click('#inbox a')]);
  const title = await page.textContent('section.policy h2');
  check(title && title.length > 4, 'the pack shows its policy');
  check((await page.locator('ul.reasons li').count()) > 0, 'the pack says why it matched');
  check(await page.locator('section.policy .score').count() === 0, 'a recipient is shown no match score');
  check((await page.textContent('section.policy'))?.includes('强相关'), 'the pack shows the verdict in words');
  check(await page.locator('.deadline').count() > 0, 'the pack shows the deadline');
  await page.screenshot({ path: `${shots}/enterprise-pack.png`, fullPage: true });

  await page.fill('section.policy textarea', '申报指引很清楚');
  await Promise.all([page.waitForNavigation(), page.click('section.policy button[value=true]')]);
  const given = await page.textContent('section.policy .given');
  check(given?.includes('有用') && given.includes('申报指引很清楚'), `feedback recorded, saw: ${given}`);
  await page.screenshot({ path: `${shots}/enterprise-feedback.png`, fullPage: true });

  await page.goto(`${base}/inbox`);
  check(await page.locator('#unread-count').count() === 0, 'reading the pack cleared the unread count');

  const response = await page.goto(`${base}/inbox/${extra}`);
  check(response.status() === 403, `someone else's pack must be refused, got ${response.status()}`);
  check((await page.textContent('main h1')).includes('无权访问'), 'the refusal says so');
  await page.screenshot({ path: `${shots}/enterprise-forbidden.png`, fullPage: true });

  await page.goto(`${base}/preferences`);
  await page.uncheck('input[name=email]');
  await page.selectOption('#frequency', 'weekly');
  await Promise.all([page.waitForNavigation(), page.click('button.primary')]);
  check((await page.textContent('.notice'))?.includes('已保存'), 'preferences saved');
  check(await page.inputValue('#frequency') === 'weekly', 'the saved frequency shows');
  await page.screenshot({ path: `${shots}/enterprise-preferences.png`, fullPage: true });

  await page.goto(`${base}/inbox?lang=en`);
  check((await page.textContent('main h1')).includes('Inbox'), 'English on request');
}

async function mine(page) {
  await signIn(page);
  await Promise.all([page.waitForNavigation(), page.click('a[href="/my/policies"]')]);
  await accessible(page, '我的政策');
  const possible = page.locator('#group-possible section.policy', { hasText: extra });
  check(await possible.count() === 1, `${extra} waits under 待确认`);
  await page.screenshot({ path: `${shots}/enterprise-my-policies.png`, fullPage: true });
  await possible.locator('input[name=value]').fill(fact);
  await Promise.all([page.waitForNavigation(), possible.locator('button').click()]);
  check(new URL(page.url()).pathname === '/my/policies', `back on 我的政策, got ${page.url()}`);
  check(await page.locator('#group-eligible section.policy', { hasText: extra }).count() === 1,
    `${extra} moved to 强相关`);
  await accessible(page, '我的政策 after the fact');
  await page.screenshot({ path: `${shots}/enterprise-my-policies-settled.png`, fullPage: true });

  const short = page.locator('#group-near_miss section.policy', { hasText: shortOf });
  check(await short.count() === 1, `${shortOf} is short of one condition (差一项)`);
  await short.locator('input[name=value]').fill(shortFact);
  await Promise.all([page.waitForNavigation(), short.locator('button').click()]);
  check(await page.locator('#group-eligible section.policy', { hasText: shortOf }).count() === 1,
    `${shortOf} moved from 差一项 to 强相关`);
  await accessible(page, '我的政策 after the condition short of');
  await page.screenshot({ path: `${shots}/enterprise-my-policies-short-settled.png`, fullPage: true });
}

async function citizen(page) {
  await signInVia(page, '/profile');
  await page.goto(`${base}/inbox`);
  check((await page.textContent('main h1')).includes('消息中心'), 'the citizen has an inbox');
  const response = await page.goto(`${base}/staff`);
  check(response.status() === 403, `the staff console is refused to a citizen, got ${response.status()}`);
  await page.goto(`${base}/profile`);
  check((await page.textContent('main h1')).includes('我的画像'), 'the citizen sees their profile');
  check((await page.textContent('#facts')).includes('北京市朝阳区'), 'the residence by its name');
  await accessible(page, '我的画像');
  await page.screenshot({ path: `${shots}/citizen-profile.png`, fullPage: true });
  await citizenSettlesByName(page);
}

// On a phone: the 待确认 policy (`extra`) asks for a coded fact, chosen by its name (`fact`)
// from a list; saving it moves the policy to 强相关.
async function citizenSettlesByName(page) {
  await page.goto(`${base}/my/policies`);
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `no sideways scroll at 390 px on 我的政策, page is ${width} px wide`);
  await accessible(page, '我的政策 on a phone');
  const possible = page.locator('#group-possible section.policy', { hasText: extra });
  check(await possible.count() === 1, `${extra} waits under 待确认`);
  check(await possible.locator('details.apply dl.fields dt').count() > 3, 'how to apply is on the match');
  await page.screenshot({ path: `${shots}/citizen-my-policies.png`, fullPage: true });
  await possible.locator('select[name=value]').selectOption({ label: fact });
  await Promise.all([page.waitForNavigation(), possible.locator('button').click()]);
  check(new URL(page.url()).pathname === '/my/policies', `back on 我的政策, got ${page.url()}`);
  check(await page.locator('#group-eligible section.policy', { hasText: extra }).count() === 1,
    `${extra} moved to 强相关`);
  await accessible(page, '我的政策 on a phone after the fact');
  await page.screenshot({ path: `${shots}/citizen-my-policies-settled.png`, fullPage: true });
}

async function staff(page) {
  await signIn(page);
  check(new URL(page.url()).pathname === '/staff', `after sign-in expected /staff, got ${page.url()}`);
  await page.fill('#q', extra);
  await Promise.all([page.waitForNavigation(), page.click('button.primary')]);
  check(await page.locator('#results a').count() === 1, 'the look-up finds the enterprise');
  await page.screenshot({ path: `${shots}/staff-lookup.png`, fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('#results a')]);
  check((await page.textContent('main h1')).includes(extra), 'the enterprise page opens');
  check(await page.locator('#result section.policy').count() > 0, 'its ranked service pack is listed');
  check(await page.locator('#result .score').count() > 0, 'staff see each match\'s score');
  await page.screenshot({ path: `${shots}/staff-service-pack.png`, fullPage: true });

  // A targeted push: policy → audience → preview → confirm → live progress until done.
  await page.goto(`${base}/staff/push`);
  await page.check('input[name=policy_ids]');
  await page.setInputFiles('#credit_code_file', { name: 'list.csv', mimeType: 'text/csv',
    buffer: Buffer.from('credit_code\n91110108MA01AB2C3T\n') });
  await page.waitForFunction(() => document.getElementById('credit_codes').value.includes('91110108MA01AB2C3T'));
  await page.screenshot({ path: `${shots}/staff-push-form.png`, fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('#preview')]);
  check((await page.textContent('#recipients')).trim() === '1', 'the preview counts the region\'s one eligible enterprise');
  check((await page.textContent('main')).includes(extra), 'the preview samples it with its reasons');
  await page.screenshot({ path: `${shots}/staff-push-preview.png`, fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('#confirm')]);
  check(/\/staff\/pushes\/\d+$/.test(new URL(page.url()).pathname), `the push's progress page opens, got ${page.url()}`);
  await page.waitForFunction(() => document.getElementById('status').textContent.includes('已完成'), null, { timeout: 30000 });
  check(await page.evaluate(() => document.getElementById('progress').value) === 1, 'the progress bar is full');
  await page.screenshot({ path: `${shots}/staff-push-done.png`, fullPage: true });
  await page.goto(`${base}/staff/pushes`);
  check((await page.locator('#pushes td a').count()) >= 1, 'the push is in the history');
}

// Staff push with an uploaded list: the picker never offers another region's policy and
// narrows as words are typed; the list's codes (in district, out of district, unknown, two
// malformed: given comma-separated, in that order) are each accounted for on the preview; then a
// push still sending is cancelled and its page shows the e-mails that had already gone out.
//   node journeys.mjs staffList <base-url> <screenshot-dir> <user> <password> <push-to-cancel> <other-region-title> <codes>
async function staffList(page) {
  const [inDistrict, outside, unknown, ...malformed] = shortOf.split(',');
  await signIn(page);
  await page.goto(`${base}/staff/push`);
  check(!(await page.textContent('main')).includes(fact), 'another region\'s policy is not offered');
  const picks = page.locator('#policy-picker label.pick');
  const offered = await picks.count();
  check(offered >= 2, `several policies to pick from, got ${offered}`);
  await page.fill('#policy_q', '中关村');
  check(await page.locator('#policy-picker label.pick:visible').count() === 1, 'typing narrows the list to one');
  await page.locator('#policy-picker label.pick:visible input').check();
  await page.fill('#policy_q', '');
  check(await page.locator('#policy-picker label.pick:visible').count() === offered, 'clearing the words shows them all');
  await page.setInputFiles('#credit_code_file', { name: 'list.csv', mimeType: 'text/csv',
    buffer: Buffer.from(`统一社会信用代码\n${shortOf.split(',').join('\n')}\n`) });
  await page.waitForFunction((last) => document.getElementById('credit_codes').value.includes(last), malformed[malformed.length - 1]);
  await page.screenshot({ path: `${shots}/staff-list-form.png`, fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('#preview')]);
  check((await page.textContent('#codes-matched')).includes(inDistrict), 'the in-district code is matched');
  check((await page.textContent('#codes-outside')).includes(outside), 'the out-of-district code is named as such');
  check((await page.textContent('#codes-unknown')).includes(unknown), 'the unknown code is named');
  const invalid = await page.textContent('#codes-invalid');
  for (const code of malformed) check(invalid.includes(code), `the malformed ${code} is listed as invalid: ${invalid}`);
  check(await page.locator('#codes-invalid div').count() === malformed.length, 'each malformed code with its reason');
  await page.screenshot({ path: `${shots}/staff-list-preview.png`, fullPage: true });
  await Promise.all([page.waitForNavigation(), page.click('#confirm')]);
  check(/\/staff\/pushes\/\d+$/.test(new URL(page.url()).pathname), `the push's page opens, got ${page.url()}`);
  check((await page.textContent('#codes-outside')).includes(outside)
    && await page.locator('#codes-invalid div').count() === malformed.length, 'the push\'s page accounts for the list too');

  // A push still sending (one address keeps deferring): cancel it and see what already went out.
  await page.goto(`${base}/staff/pushes/${extra}`);
  const emailed = page.locator('#channels tr[data-channel=email] td[data-count=delivered]');
  await page.waitForFunction(() => Number(document.querySelector('#channels tr[data-channel=email] td[data-count=delivered]').textContent) > 0, null, { timeout: 30000 });
  await Promise.all([page.waitForNavigation(), page.click('#cancel-form button')]);
  await page.waitForFunction(() => document.getElementById('status').textContent.includes('已取消'), null, { timeout: 10000 });
  check(Number(await emailed.textContent()) > 0, 'the cancelled push shows the e-mails already delivered');
  const inbox = page.locator('#channels tr[data-channel=inbox] td[data-count=delivered]');
  check(Number(await inbox.textContent()) > 0, 'beside the inbox deliveries');
  await page.screenshot({ path: `${shots}/staff-push-cancelled.png`, fullPage: true });
}

// Taxonomy by the page: create a tag, edit its labels and synonyms, give it a new code (the old
// one kept as an alias), retire a tag, and merge one into another; each change tried first with
// its dry run, whose confirmation names the policies and audiences affected. A merge into a code
// that does not exist is refused, naming the field.
//   node journeys.mjs taxonomy <base-url> <screenshot-dir> <user> <password> <title of the policy tagged rnd>
async function taxonomy(page) {
  await signIn(page);
  await page.goto(`${base}/admin/tags?dimension=topic`);
  await page.fill('#new-code', 'circular');
  await page.fill('#new-label-zh', '循环经济');
  await page.fill('#new-label-en', 'Circular economy');
  await page.fill('#new-synonyms', '再生资源，资源回收');
  await Promise.all([page.waitForNavigation(), page.click('#create-tag')]);
  check((await page.textContent('#tag-circular')).includes('再生资源'), 'the new tag is listed with its synonyms');

  async function open(row) {
    await page.$eval(`${row} details`, (details) => { details.open = true; });
  }
  async function tryChange(row, button) {
    await page.click(`${row} .${button}`);
    await page.waitForSelector(`${row} .impact .confirm, ${row} .impact.error`);
    return page.textContent(`${row} .impact`);
  }
  async function confirm(row) {
    await Promise.all([page.waitForNavigation(), page.click(`${row} .impact .confirm`)]);
  }
  await open('#tag-circular');
  await page.fill('#tag-circular .label_zh', '循环经济与再生资源');
  await page.fill('#tag-circular .synonyms', '再生资源，资源回收，废旧物资');
  let shown = await tryChange('#tag-circular', 'edit-dry-run');
  check(shown.includes('没有政策带有该标签'), `an unused tag's edit names no policy: ${shown}`);
  await confirm('#tag-circular');
  const edited = await page.textContent('#tag-circular');
  check(edited.includes('循环经济与再生资源') && edited.includes('废旧物资') && edited.includes('v2'), `labels and synonyms saved as a new version: ${edited}`);

  await open('#tag-circular');
  await page.fill('#tag-circular .new-code', 'circular_economy');
  shown = await tryChange('#tag-circular', 'rename-dry-run');
  check(shown.includes('circular_economy'), `the rename's confirmation names the new code: ${shown}`);
  await confirm('#tag-circular');
  check(await page.locator('#tag-circular_economy').count() === 1, 'listed under its new code');
  check((await page.textContent('#tag-circular .tag-status')).includes('已合并 → circular_economy'), 'the old code stays as an alias');

  await open('#tag-culture');
  await page.selectOption('#tag-culture .status', 'retired');
  shown = await tryChange('#tag-culture', 'edit-dry-run');
  check(shown.includes('停用标签'), `the confirmation says the tag is retired: ${shown}`);
  await confirm('#tag-culture');
  check((await page.textContent('#tag-culture .tag-status')).includes('已停用'), 'the tag is retired');

  await open('#tag-rnd');
  await page.fill('#tag-rnd .into', 'no_such_topic');
  shown = await tryChange('#tag-rnd', 'merge-dry-run');
  check(shown.startsWith('into') && shown.includes('no_such_topic'), `a merge into nothing is refused, naming the field: ${shown}`);
  await page.fill('#tag-rnd .into', 'finance');
  await page.click('#tag-rnd .merge-dry-run');
  await page.waitForSelector('#tag-rnd .impact .confirm');
  shown = await page.textContent('#tag-rnd .impact');
  check(shown.includes(extra) && shown.includes('强相关') && shown.includes('上升的政策'),
    `the merge's dry run names the policy, its audience and what rises and falls: ${shown}`);
  check((await page.textContent('#tag-rnd .confirm-names')).includes(extra), 'the confirmation names the policy');
  await page.screenshot({ path: `${shots}/admin-taxonomy-merge-confirm.png`, fullPage: true });
  await confirm('#tag-rnd');
  check((await page.textContent('#tag-rnd .tag-status')).includes('已合并 → finance'), 'the tag is merged');
}

async function admin(page) {
  await signIn(page);
  check(new URL(page.url()).pathname === '/admin', `after sign-in expected /admin, got ${page.url()}`);
  await page.goto(`${base}/admin/policies/${extra}`);
  await page.waitForFunction(() => document.getElementById('audience').textContent.length > 0);
  // The builder in words: the employee count's leaf reads 从业人员（人） 不超过, its value a number.
  const leaf = page.locator('#builder .leaf', { has: page.locator('option[value=employees]:checked') });
  const offered = await leaf.locator('select').nth(1).locator('option').allTextContents();
  check(offered.includes('不超过') && !offered.includes('le'), `operators are words, saw: ${offered}`);
  const employees = leaf.locator('input[type=number]');
  await employees.fill('');
  await page.waitForFunction(() => document.getElementById('condition-problems').className === 'error');
  const problem = await page.textContent('#condition-problems');
  check(problem.includes('适用条件尚未完成'), `an empty value is reported, saw: ${problem}`);
  await page.screenshot({ path: `${shots}/admin-condition-error.png`, fullPage: true });
  await employees.fill('300');
  await page.waitForFunction(() => document.getElementById('condition-problems').textContent === '');
  await page.fill('#summary', '对建设概念验证中心的企业给予支持（修订）。');
  await page.click('#publish');
  await page.waitForSelector('#confirm:not([hidden]) #audience-total');
  await page.check('#choices input[value=now]');
  await page.waitForFunction(() => !document.getElementById('audience').dataset.pending);
  await page.click('#confirm-go');
  await page.waitForFunction(() => document.getElementById('confirm-result').textContent.length > 0, null, { timeout: 20000 });
  const audience = await page.textContent('#audience-total');
  check(audience.includes('强相关 2'), `the confirmation shows the audience, saw: ${audience}`);
  check((await page.textContent('#policy-status')) === '已发布', 'the policy is published');
  await page.screenshot({ path: `${shots}/admin-published-audience.png`, fullPage: true });
  for (const [path, shot] of [['/admin/analytics', 'admin-analytics'], ['/admin/dead-letters', 'admin-dead-letters'], ['/admin/audit', 'admin-audit']]) {
    const response = await page.goto(`${base}${path}`);
    check(response.status() === 200, `${path} opens`);
    await page.screenshot({ path: `${shots}/${shot}.png`, fullPage: true });
    if (path === '/admin/analytics') {
      check(await page.locator('#rates-chart rect').count() > 0, 'the rates chart is drawn');
      check(await page.locator('#pushes-chart rect').count() > 0, 'the pushes-per-day chart is drawn');
      check(await page.locator('#channels tr').count() > 1, 'deliveries per channel are listed');
      check(await page.locator('#channels-chart rect').count() > 0, 'the per-channel chart is drawn');
    }
  }
  check((await page.textContent('#audit')).includes('管理员 e2e-admin'), 'the audit log names the administrator');

  // Weights: a form; a dry run shows what a change would do, and what rises and falls.
  await page.goto(`${base}/admin/weights`);
  await page.fill('#term-interest', '0');
  await page.click('#dry-run');
  await page.waitForSelector('#impact-summary');
  check((await page.textContent('#impact-summary')).includes('/ '), 'the dry run reports the profiles checked');
  const changedProfiles = Number((await page.textContent('#impact-summary')).match(/(\d+) \//)[1]);
  const moved = await page.locator('#rising li, #falling li').allTextContents();
  check(changedProfiles === 0 || moved.some((line) => line.includes('个画像')),
    `${changedProfiles} rankings change, so the dry run lists what rises and falls: ${moved.join('; ')}`);
  await page.screenshot({ path: `${shots}/admin-weights-dry-run.png`, fullPage: true });

  // A new draft opens straight in the editor.
  await page.goto(`${base}/admin/policies`);
  await Promise.all([page.waitForNavigation(), page.click('#new-policy')]);
  check(/\/admin\/policies\/\d+$/.test(new URL(page.url()).pathname), `the new draft opens in the editor, got ${page.url()}`);
  check((await page.textContent('#policy-status')) === '草稿', 'a new policy starts as a draft');

  // Taxonomy: a merge is tried first, its effect shown, nothing saved.
  await page.goto(`${base}/admin/tags?dimension=topic`);
  await page.$eval('#tag-tax details', (details) => { details.open = true; });
  await page.fill('#tag-tax .into', 'rnd');
  await page.click('#tag-tax .merge-dry-run');
  await page.waitForSelector('#tag-tax .impact .confirm');
  const impact = await page.textContent('#tag-tax .impact');
  check(impact.includes('排名变化的画像'), `the dry run reports the rankings, saw: ${impact}`);
  await page.screenshot({ path: `${shots}/admin-taxonomy-dry-run.png`, fullPage: true });

  // A tag weight: tried first (nothing saved), then confirmed and shown after the reload.
  await page.fill('#tag-tax .weight', '2.5');
  await page.click('#tag-tax .edit-dry-run');
  await page.waitForSelector('#tag-tax .impact .confirm');
  const weightImpact = await page.textContent('#tag-tax .impact');
  check(weightImpact.includes('排名变化的画像'), `the weight dry run reports the rankings, saw: ${weightImpact}`);
  const unsaved = await page.evaluate(async () => (await (await fetch('/api/v1/tags?dimension=topic&q=tax', { credentials: 'same-origin' })).json()).items.find((t) => t.code === 'tax').weight);
  check(unsaved === 1, `a dry run saves nothing, weight ${unsaved}`);
  await Promise.all([page.waitForNavigation(), page.click('#tag-tax .impact .confirm')]);
  check((await page.inputValue('#tag-tax .weight')) === '2.5', 'the saved weight is shown');

  // Schedules: a five-field crontab line is refused with the reason, a proper one is kept.
  await page.goto(`${base}/admin/schedules`);
  await page.fill('#name', '每日摘要');
  await page.fill('#cron', '0 9 * * *');
  await Promise.all([page.waitForNavigation(), page.click('button.primary')]);
  check((await page.textContent('.error')).includes('6'), 'the cron error explains the six fields');
  await page.fill('#cron', '0 0 9 * * *');
  await Promise.all([page.waitForNavigation(), page.click('button.primary')]);
  check((await page.textContent('#schedules')).includes('0 0 9 * * *'), 'the schedule is listed');
  await page.screenshot({ path: `${shots}/admin-schedules.png`, fullPage: true });
}

// An administrator writes a policy from empty through the forms (no JSON anywhere), is stopped
// by the completeness check, completes the policy, reads the confirmation (the audience by
// district, a sample pack as its recipient sees it), publishes without pushing, then sets the
// push for a later time.
async function editor(page) {
  await signIn(page);
  await page.goto(`${base}/admin/policies`);
  await Promise.all([page.waitForNavigation(), page.click('#new-policy')]);
  const id = new URL(page.url()).pathname.split('/').pop();
  check(/^\d+$/.test(id), `the new draft opens in the editor, got ${page.url()}`);
  check(await page.locator('#condition, textarea[spellcheck=false]').count() === 0, 'no JSON box in the editor');
  await page.fill('#title', extra);
  await page.click('#add-department');
  await page.fill('#departments input', '北京市经济和信息化局');
  await page.click('#add-department');
  await page.locator('#departments input').nth(1).fill('北京市财政局');
  await page.selectOption('#level', { label: '市级' });
  await page.selectOption('#region_code', { label: '北京市' });
  await page.fill('#written_on', '2026-11-20');
  await page.fill('#valid_from', '2026-12-01');
  await page.fill('#valid_until', '2028-11-30');
  await page.selectOption('#disclosure', { label: '主动公开' });
  await page.fill('#summary', '对开展数字化改造的中小企业给予一次性奖励。');
  await page.setInputFiles('#full_text_file', { name: '原文.txt', mimeType: 'text/plain',
    buffer: Buffer.from('第一条 为支持中小企业数字化转型，制定本办法。\n第二条 本市注册的中小企业可以申报。\n') });
  await page.waitForFunction(() => document.getElementById('full_text').value.includes('第一条'));
  await page.click('#add-key-point');
  await page.fill('#key-points input', '完成数字化改造即可申报');
  await page.click('#add-qa');
  await page.locator('#qa input').nth(0).fill('个体工商户可以申报吗？');
  await page.locator('#qa input').nth(1).fill('不可以。');
  await page.click('#add-item');
  const item = page.locator('#items .item');
  await item.getByLabel('事项名称').fill('数字化改造奖励');
  await item.getByLabel('办理渠道').fill('线上申报');
  await item.getByLabel('办理流程').fill('企业申报—区级初审—市级复核—资金拨付');
  await item.getByLabel('网上办理链接').fill('https://zhengce.example.gov.cn/apply/digital');
  await item.getByLabel('咨询电话').fill('010-12345678');
  await item.getByLabel('申报开始日期').fill('2026-12-01');
  await item.getByLabel('申报截止日期').fill('2027-03-31');
  await item.getByLabel('申报材料（每行一项）').fill('申请表\n改造项目验收报告');
  await item.getByLabel('金额计算方式').selectOption({ label: '固定金额' });
  await item.getByLabel('金额（万元）').fill('50');

  // The condition, in words: 所在地区 属于 北京市, and 从业人员 不超过 500.
  await page.click('#builder button');
  await page.locator('#builder select[aria-label="条件字段"]').first().selectOption({ label: '所在地区' });
  const first = page.locator('#builder .group > .leaf').nth(1);
  check((await first.locator('select').nth(1).inputValue()) === 'within', 'a region is tested with 属于');
  check((await first.locator('select').nth(1).locator('option:checked').textContent()).startsWith('属于'), 'the operator reads 属于');
  await first.locator('select').nth(2).selectOption({ label: '北京市' });
  await page.getByRole('button', { name: '+ 条件', exact: true }).click();
  const second = page.locator('#builder .group > .leaf').nth(2);
  await second.locator('select').nth(0).selectOption({ label: '从业人员（人）' });
  await second.locator('select').nth(1).selectOption({ label: '不超过' });
  await second.locator('input[type=number]').fill('500');
  await page.waitForFunction(() => document.getElementById('audience').textContent.includes('强相关 2'), null, { timeout: 20000 });
  await accessible(page, 'the policy editor');
  await page.screenshot({ path: `${shots}/editor-forms.png`, fullPage: true });

  // Saved twice on the same page: the second save is as good as the first.
  for (const n of [1, 2]) {
    await page.click('#save');
    await page.waitForFunction(() => document.getElementById('validation').textContent.length > 0);
    const said = await page.textContent('#validation');
    check(said.includes('已保存') && !said.includes('失败'), `save ${n} succeeds, saw: ${said}`);
    await page.evaluate(() => { document.getElementById('validation').textContent = ''; });
  }

  // No 文号: the completeness check stops the publication.
  await page.click('#publish');
  await page.waitForSelector('#confirm:not([hidden])');
  const gaps = await page.textContent('#gaps');
  check(gaps.includes('未填写文号'), `the missing 文号 blocks, saw: ${gaps}`);
  check(await page.locator('#confirm-go').isDisabled(), 'publishing is not offered while something blocks');
  await page.screenshot({ path: `${shots}/editor-blocked.png`, fullPage: true });
  await page.click('#confirm-cancel');
  await page.fill('#doc_number', '京经信发〔2026〕12号');
  await page.click('#publish');
  await page.waitForFunction(() => !document.getElementById('gaps').textContent.includes('文号')
    && document.getElementById('confirm-audience').textContent.length > 0);
  check(!(await page.locator('#confirm-go').isDisabled()), 'complete, it may be published');
  check((await page.textContent('#audience-total')).includes('强相关 2'), 'the confirmation counts the audience');
  const districts = await page.textContent('#audience-districts');
  check(districts.includes('海淀区') && districts.includes('朝阳区'), `the audience by district, saw: ${districts}`);
  const sample = await page.locator('#sample iframe').getAttribute('srcdoc');
  check(sample.includes('京经信发〔2026〕12号') && sample.includes('数字化改造奖励'), 'the sample pack is the e-mail its recipient would read');
  await accessible(page, 'the publish confirmation');
  await page.screenshot({ path: `${shots}/editor-confirm.png`, fullPage: true });

  // Published without a push: nothing is sent.
  await page.check('#choices input[value=none]');
  await page.waitForFunction(() => !document.getElementById('audience').dataset.pending);
  await page.click('#confirm-go');
  await page.waitForFunction(() => document.getElementById('confirm-result').textContent.length > 0);
  check((await page.textContent('#confirm-result')).includes('已发布，未推送'), 'published without pushing');
  check((await page.textContent('#policy-status')) === '已发布', 'the status reads 已发布');
  const publishPush = async () => page.evaluate(async (policy) => {
    const list = await (await fetch('/api/v1/pushes?trigger_kind=publish&per_page=100', { credentials: 'same-origin' })).json();
    return list.items.find((p) => p.trigger_key === `policy:${policy}`) || null;
  }, id);
  check(await publishPush() === null, 'no push was made');

  // Then the push, at a set time in China time.
  await page.click('#push-later');
  await page.waitForSelector('#confirm:not([hidden])');
  check(await page.locator('#choice-none-label').isHidden(), 'pushing offers now or later only');
  await page.check('#choices input[value=at]');
  const china = new Date(Date.now() + 2 * 3600e3 + 8 * 3600e3).toISOString().slice(0, 16);
  await page.fill('#push-at', china);
  await page.waitForFunction(() => !document.getElementById('audience').dataset.pending);
  await page.click('#confirm-go');
  await page.waitForFunction(() => document.getElementById('confirm-result').textContent.length > 0);
  const result = await page.textContent('#confirm-result');
  check(result.includes('已设定推送时间') && result.includes(china.replace('T', ' ')), `the push is set, saw: ${result}`);
  const push = await publishPush();
  check(push && push.status === 'planning' && Date.parse(push.not_before) === Date.parse(`${china}:00+08:00`),
    `the push waits for its time, saw: ${JSON.stringify(push)}`);
  await accessible(page, 'the push set for later');
  await page.screenshot({ path: `${shots}/editor-push-later.png`, fullPage: true });
}

async function documents(page) {
  await signIn(page);
  await page.goto(`${base}/admin/policies/${extra}`);
  const leaves = () => page.locator('#builder .leaf:has(select[aria-label="条件字段"])');
  await leaves().first().waitFor();
  const before = await leaves().count();
  await page.setInputFiles('#doc-file', fact);
  await page.click('#doc-upload');
  await page.waitForSelector('#doc-conditions li button.accept');
  // The suggestion reads in the builder's words, not as field codes and operator names.
  const employees = page.locator('#doc-conditions li', { hasText: '从业人员（人） 不超过 300' });
  check(await employees.count() === 1, `the employee threshold is suggested in words, saw: ${await page.textContent('#doc-conditions')}`);
  check(!(await page.textContent('#doc-conditions')).includes('employees le'), 'no field code or operator name is shown');
  await employees.locator('button.show').click();
  const marked = await page.textContent('#doc-text mark');
  check(marked === '从业人数不超过300人', `the source is highlighted in the 原文, saw: ${marked}`);
  check((await employees.textContent()).includes('第三条（二）'), 'the suggestion cites its clause');
  await employees.locator('button.accept').click();
  check(await employees.getAttribute('class') === 'accepted', 'the row shows it was accepted');
  // The builder redraws with the accepted leaf, in words, with the number as typed.
  await page.waitForFunction((n) => document.querySelectorAll('#builder .leaf select[aria-label="条件字段"]').length === n + 1, before);
  const added = leaves().nth(before);
  check(await added.locator('select').nth(0).inputValue() === 'employees', 'the accepted leaf tests 从业人员');
  check(await added.locator('select').nth(1).inputValue() === 'le', 'with 不超过');
  check(await added.locator('input').first().inputValue() === '300', 'and 300');
  const revenue = page.locator('#doc-conditions li', { hasText: '营业收入' });
  await revenue.first().locator('button.reject').click();
  check(await revenue.first().getAttribute('class') === 'rejected', 'a rejected suggestion is marked');
  check(await leaves().count() === before + 1, 'a rejected suggestion is not applied');
  // The 文号 and the document's whole text reach their form fields, kept as the 原文.
  const number = page.locator('#doc-metadata li', { hasText: '京海政发〔2026〕3号' });
  await number.locator('button.accept').click();
  check(await page.inputValue('#doc_number') === '京海政发〔2026〕3号', 'the accepted 文号 fills its field');
  await page.click('#doc-use-text');
  check((await page.inputValue('#full_text')).includes('（二）从业人数不超过300人'), 'the document becomes the 原文');
  await accessible(page, 'the document suggestions');
  await page.screenshot({ path: `${shots}/admin-document-suggestions.png`, fullPage: true });
  await page.click('#save');
  await page.waitForFunction(() => document.getElementById('validation').textContent.includes('已保存'));
}

async function visitor(page, phone) {
  const words = user;
  await page.goto(`${base}/policies`);
  check((await page.textContent('main h1')).includes('政策库'), 'the library opens without signing in');
  await accessible(page, 'the library');
  await page.fill('#q', words);
  await Promise.all([page.waitForNavigation(), page.click('form[role=search] button.primary')]);
  check(await page.locator('ol.hits mark').count() > 0, `the hits highlight “${words}”`);
  await accessible(page, 'the search result');
  await page.screenshot({ path: `${shots}/visitor-search.png`, fullPage: true });

  await Promise.all([page.waitForNavigation(), page.click('ol.hits h2 a')]);
  check(/\/policies\/\d+$/.test(new URL(page.url()).pathname), `a policy page opens, got ${page.url()}`);
  check(await page.locator('dl.fields dt').count() > 3, 'the policy page says how to apply');
  await accessible(page, 'the policy page');
  await page.screenshot({ path: `${shots}/visitor-policy.png`, fullPage: true });

  await Promise.all([page.waitForNavigation(), page.click('main a[href="/calculator"]')]);
  await accessible(page, 'the calculator');
  await page.selectOption('#region', '110108');
  await page.fill('#revenue', '500');
  await Promise.all([page.waitForNavigation(), page.click('#calculate')]);
  for (const group of ['eligible', 'possible', 'near_miss']) {
    check(await page.locator(`#group-${group}`).count() === 1, `the result has the ${group} group`);
  }
  check(await page.locator('#group-eligible section.policy').count() > 0, 'partial facts already find a policy');
  check(await page.locator('#fill-next li').count() > 0, 'the result says what to fill in next');
  await accessible(page, 'the calculator result');
  await page.screenshot({ path: `${shots}/visitor-calculator-result.png`, fullPage: true });

  // The same result on a phone: readable without scrolling sideways.
  const result = page.url();
  await phone.goto(result);
  check(await phone.locator('#group-eligible').count() === 1, 'the result opens on a phone');
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  check(width <= 390, `no sideways scroll at 390 px, page is ${width} px wide`);
  await accessible(phone, 'the calculator result on a phone');
  await phone.screenshot({ path: `${shots}/visitor-calculator-phone.png`, fullPage: true });
  await errorPages(page);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
try {
  const context = role === 'citizen'
    ? await browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, isMobile: true })
    : await browser.newContext({ locale: 'zh-CN' });
  const page = await context.newPage();
  const opened = recordPages(page);
  if (role === 'visitor') {
    const phone = await browser.newPage({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, isMobile: true });
    await visitor(page, phone);
  } else {
    await ({ enterprise, mine, citizen, staff, staffList, taxonomy, admin, editor, documents })[role](page);
  }
  await narrowChecks(context, opened);
  console.log(`${role} journey passed`);
} catch (error) {
  console.error(`${role} journey failed: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
