// Open pages of the built documentation site in Debian's headless Chromium (playwright-core) and report what they
// show. Input: the JSON in $DOCS_SITE_INPUT ({base, chromium, pages: [path, ...], screenshots}). Output: one JSON
// line on stdout, per page {title, h1, navLinks, codeBlocks, firstCode, brokenImages}; tests/browser/test_docs_site.py
// checks it.
import { chromium } from 'playwright-core';
import path from 'node:path';

const input = JSON.parse(process.env.DOCS_SITE_INPUT);
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
  const result = {};
  for (const [index, pagePath] of input.pages.entries()) {
    await page.goto(`${input.base}/${pagePath}`);
    await page.locator('h1').first().waitFor();
    result[pagePath] = {
      title: await page.title(),
      h1: (await page.locator('article h1').first().innerText()).replace('¶', '').trim(),
      navLinks: await page.locator('nav.md-nav--primary a.md-nav__link').evaluateAll(
        (links) => links.map((link) => link.textContent.trim()).filter(Boolean),
      ),
      codeBlocks: await page.locator('article pre code').count(),
      firstCode: await page.locator('article pre code').first().innerText().catch(() => ''),
      brokenImages: await page.locator('article img').evaluateAll(
        (images) => images.filter((image) => !image.complete || image.naturalWidth === 0).map((image) => image.src),
      ),
    };
    await page.screenshot({ path: path.join(input.screenshots, `page-${index}.png`), fullPage: false });
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await browser.close();
}
