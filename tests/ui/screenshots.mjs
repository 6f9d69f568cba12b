// Logs into a running Odoo and screenshots the Job Queue menu (list, failed job form, channels, job functions).
// Usage: node tests/ui/screenshots.mjs <base url> <db> <out dir>   (needs playwright-core and /usr/bin/chromium)
import { chromium } from "playwright-core";

const [base, db, outDir] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 850 } });
const errors = [];
page.on("pageerror", (err) => errors.push(String(err)));
page.on("console", (msg) => { if (msg.type() === "error") errors.push(msg.text()); });

await page.goto(`${base}/web/login?db=${db}`);
await page.fill("input[name=login]", "admin");
await page.fill("input[name=password]", "admin");
await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);

async function shot(path, name, waitFor) {
  await page.goto(`${base}${path}`);
  await page.waitForSelector(waitFor, { timeout: 20000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${outDir}/${name}.png` });
  console.log(`screenshot ${name}: ${await page.title()}`);
}

await shot("/odoo/action-queue_job.action_queue_job", "jobs_list", ".o_list_view, .o_view_nocontent");
const failed = await page.$("tr.o_data_row.text-danger td.o_data_cell");
if (failed) {
  await failed.click();
  await page.waitForSelector(".o_form_view");
  await page.waitForTimeout(500);
  await page.screenshot({ path: `${outDir}/job_form.png` });
  console.log("screenshot job_form");
}
await shot("/odoo/action-queue_job.action_queue_job_channel", "channels", ".o_list_view");
await shot("/odoo/action-queue_job.action_queue_job_function", "job_functions", ".o_list_view");
await browser.close();
if (errors.length) {
  console.log("browser errors:\n" + errors.join("\n"));
  process.exit(1);
}
