// Drive Airflow's connection form in Debian's headless Chromium (playwright-core, no browser download):
// add an "OpenAI Fusion" connection, save it, press Test, edit it with a wrong key, Test again, restore it.
// Input: the JSON in $CONNECTION_FORM_INPUT ({airflow, chromium, connId, baseUrl, apiKey, wrongKey,
// organizationId, projectId, timeout, maxRetries, screenshots}). Output: one JSON line on stdout with what
// the page showed; tests/browser/test_connection_form.py checks it. Screenshots go to input.screenshots.
import { chromium } from 'playwright-core';
import path from 'node:path';

const input = JSON.parse(process.env.CONNECTION_FORM_INPUT);
const EXTRA_FIELDS = ['organization_id', 'project_id', 'timeout', 'max_retries'];
const HIDDEN_FIELDS = ['login', 'port', 'schema'];

// launch() starts Chromium with a fresh temporary profile of its own, removed on close.
const browser = await chromium.launch({
  executablePath: input.chromium,
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
  ],
});

try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  page.setDefaultTimeout(30000);
  const result = await run(page);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await browser.close();
}

async function run(page) {
  const result = {};
  await page.goto(`${input.airflow}/connections`);
  await page.getByRole('button', { name: 'Add Connection' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.locator('input[name="connection_id"]').fill(input.connId);
  await page.getByRole('combobox').fill('OpenAI');
  await page.getByRole('option').first().waitFor();
  result.typeOptions = await page.getByRole('option').allInnerTexts();
  await page.getByRole('option', { name: 'OpenAI Fusion', exact: true }).click();
  await dialog.locator('input[name="host"]').waitFor();
  result.emptyForm = await readStandardFields(dialog);
  await dialog.screenshot({ path: shot('connection-form-empty.png'), animations: 'disabled' });

  await dialog.locator('input[name="host"]').fill(input.baseUrl);
  await setApiKey(dialog, input.apiKey);
  const standardShot = await dialog.screenshot({ animations: 'disabled' });
  await openSection(dialog, 'Extra Fields');
  result.helpTexts = await readHelpTexts(dialog);
  result.webhookSecretType = await field(dialog, 'webhook_secret').getAttribute('type');
  await field(dialog, 'organization_id').fill(input.organizationId);
  await field(dialog, 'project_id').fill(input.projectId);
  await field(dialog, 'timeout').fill(String(input.timeout));
  await field(dialog, 'max_retries').fill(String(input.maxRetries));
  await field(dialog, 'max_retries').blur();
  const extraShot = await dialog.screenshot({ animations: 'disabled' });
  await sideBySide([standardShot, extraShot], shot('connection-form-filled.png'));
  await save(page, dialog);

  await page.reload(); // clears the "created" toast, for a clean screenshot of the test result
  result.rightKeyTest = await pressTest(page);
  await page.setViewportSize({ width: 1280, height: 600 });
  await page.screenshot({ path: shot('connection-test-result.png'), animations: 'disabled' });
  await page.setViewportSize({ width: 1280, height: 1000 });

  await openEditor(page);
  result.editForm = await readEditor(page, dialog);
  await setApiKey(dialog, input.wrongKey);
  await save(page, dialog);
  result.wrongKeyTest = await pressTest(page);

  await openEditor(page);
  await setApiKey(dialog, input.apiKey);
  await save(page, dialog);
  return result;
}

function shot(name) {
  return path.join(input.screenshots, name);
}

function field(dialog, name) {
  return dialog.locator(`[name="element_${name}"]`);
}

// The form's sections are an accordion: opening one closes the other.
async function openSection(dialog, name) {
  const trigger = dialog.getByRole('button', { name, exact: true });
  if ((await trigger.getAttribute('aria-expanded')) !== 'true') await trigger.click();
  const first = name === 'Standard Fields' ? dialog.locator('input[name="host"]') : field(dialog, EXTRA_FIELDS[0]);
  await first.waitFor({ state: 'visible' });
}

async function setApiKey(dialog, key) {
  await openSection(dialog, 'Standard Fields');
  await dialog.locator('input[name="password"]').fill(key);
}

async function readStandardFields(dialog) {
  const form = { labels: [], placeholders: {}, passwordType: null, hiddenPresent: [] };
  for (const name of ['host', 'password']) {
    form.placeholders[name] = await dialog.locator(`input[name="${name}"]`).getAttribute('placeholder');
  }
  form.passwordType = await dialog.locator('input[name="password"]').getAttribute('type');
  form.labels = (await dialog.innerText()).split('\n').map((line) => line.trim()).filter(Boolean);
  for (const name of HIDDEN_FIELDS) {
    if (await dialog.locator(`[name="${name}"]`).count()) form.hiddenPresent.push(name);
  }
  return form;
}

async function readHelpTexts(dialog) {
  const texts = {};
  for (const name of input.helpFields) {
    const helper = await field(dialog, name).getAttribute('aria-describedby');
    texts[name] = await dialog.locator(`[id="${helper}"]`).innerText();
  }
  return texts;
}

async function save(page, dialog) {
  await dialog.getByRole('button', { name: 'Save' }).click();
  await dialog.waitFor({ state: 'detached' });
  await page.getByRole('row').filter({ hasText: input.connId }).waitFor();
}

async function openEditor(page) {
  const row = page.getByRole('row').filter({ hasText: input.connId });
  await row.getByRole('button', { name: 'Edit Connection' }).click();
  await page.getByRole('dialog').locator('input[name="host"]').waitFor();
}

async function readEditor(page, dialog) {
  const form = {
    host: await dialog.locator('input[name="host"]').inputValue(),
    password: await dialog.locator('input[name="password"]').inputValue(),
    passwordType: await dialog.locator('input[name="password"]').getAttribute('type'),
  };
  await openSection(dialog, 'Extra Fields');
  form.extras = {};
  for (const name of EXTRA_FIELDS) form.extras[name] = await field(dialog, name).inputValue();
  form.keyInPage = (await page.content()).includes(input.apiKey);
  return form;
}

function toasts(page) {
  return page.locator('[data-scope="toast"][data-part="root"]');
}

// Press the row's Test button; return the API's answer and the text of the toast the UI showed for it.
async function pressTest(page) {
  const row = page.getByRole('row').filter({ hasText: input.connId });
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v2/connections/test'));
  await row.getByRole('button', { name: 'Test Connection' }).click();
  const response = await answer;
  const body = await response.json();
  const title = body.status === true ? 'Test Connection Successful' : 'Test Connection Failed';
  const toast = toasts(page).filter({ hasText: title }).last();
  return { httpStatus: response.status(), status: body.status, toast: await toast.innerText() };
}

// Put two screenshots next to each other in one image (the form's two sections cannot be open together).
async function sideBySide(images, file) {
  const composer = await browser.newPage({ viewport: { width: 2000, height: 1100 } });
  const tags = images.map((png) => `<img src="data:image/png;base64,${png.toString('base64')}">`).join('');
  await composer.setContent(
    `<body style="margin:0"><div id="both" style="display:inline-flex;gap:16px;align-items:flex-start;` +
      `padding:16px;background:#e2e8f0">${tags}</div></body>`,
  );
  await composer.locator('#both').screenshot({ path: file });
  await composer.close();
}
