// Drives fhir-kit-client, unmodified, against a running server; prints what it saw as JSON.
// Environment: FHIR_BASE (…/fhir), FHIR_TOKEN (a bearer token), FAMILY (a unique family name).
import { Client } from 'fhir-kit-client';

const client = new Client({ baseUrl: process.env.FHIR_BASE, bearerToken: process.env.FHIR_TOKEN });
const family = process.env.FAMILY;
const seen = {};

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (error) {
    return error.response ? error.response.status : String(error);
  }
}

const statement = await client.capabilityStatement();
seen.fhirVersion = statement.fhirVersion;

const ids = [];
for (let index = 0; index < 7; index += 1) {
  const created = await client.create({
    resourceType: 'Patient',
    body: { resourceType: 'Patient', name: [{ family, given: [`G${index}`] }] },
  });
  ids.push(created.id);
}

// paging: every page says the total; nextPage follows the server's links to the end
let page = await client.search({ resourceType: 'Patient', searchParams: { family, _count: 3 } });
seen.totals = [];
seen.paged = [];
for (;;) {
  seen.totals.push(page.total);
  seen.paged.push(...(page.entry || []).map((entry) => entry.resource.id));
  if (!(page.link || []).some((link) => link.relation === 'next')) break;
  page = await client.nextPage({ bundle: page });
}

const first = ids[0];
const read = await client.read({ resourceType: 'Patient', id: first });
seen.readFamily = read.name[0].family;
const updated = await client.update({
  resourceType: 'Patient',
  id: first,
  body: { ...read, active: false },
});
seen.updatedVersion = updated.meta.versionId;
const patched = await client.patch({
  resourceType: 'Patient',
  id: first,
  jsonPatch: [{ op: 'replace', path: '/active', value: true }],
});
seen.patchedActive = patched.active;
const history = await client.history({ resourceType: 'Patient', id: first });
seen.historyVersions = (history.entry || []).length;

const identifier = `http://clinic.example.org/fhir/sid/mrn|${family}`;
const conditional = { headers: { 'If-None-Exist': `identifier=${identifier}` } };
const body = {
  resourceType: 'Patient',
  identifier: [{ system: 'http://clinic.example.org/fhir/sid/mrn', value: family }],
  name: [{ text: 'Conditional Patient' }], // a clinic patient (it has an MRN) has a name and a gender
  gender: 'unknown',
};
const once = await client.create({ resourceType: 'Patient', body, options: conditional });
const twice = await client.create({ resourceType: 'Patient', body, options: conditional });
seen.conditionalSameId = once.id === twice.id;

const counted = await client.search({ resourceType: 'Patient', searchParams: { family, _summary: 'count' } });
seen.summaryCount = counted.total;

await client.delete({ resourceType: 'Patient', id: ids[1] });
seen.readDeleted = await status(client.read({ resourceType: 'Patient', id: ids[1] }));
seen.readMissing = await status(client.read({ resourceType: 'Patient', id: 'no-such-patient' }));

console.log(JSON.stringify(seen));
