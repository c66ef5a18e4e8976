import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCsv, recipientsFromCsv } from '../../../operator/campaign/csv.ts';

const cols = { phoneColumn: 'phone', timeZoneColumn: 'timezone', priorityColumn: 'priority' };
const derive = (p: string) => (p.startsWith('+44') ? 'Europe/London' : undefined);

describe('recipients CSV', () => {
  it('parses quoted fields with commas, quotes and newlines', () => {
    assert.deepEqual(parseCsv('a,b\r\n"x, y","say ""hi""\nthere"\n'), [
      ['a', 'b'],
      ['x, y', 'say "hi"\nthere'],
    ]);
  });

  it('one column per variable; zone from the row, else the number, else the campaign', () => {
    const rows = recipientsFromCsv(
      'phone,first_name,timezone,priority\n+14155550123,Ada,America/Chicago,5\n+442071234567,Alan,,\n+15555550123,Grace,,\n',
      cols,
      derive,
      'UTC',
    );
    assert.deepEqual(rows, [
      { phone: '+14155550123', timeZone: 'America/Chicago', priority: 5, variables: { first_name: 'Ada' } },
      { phone: '+442071234567', timeZone: 'Europe/London', priority: 0, variables: { first_name: 'Alan' } },
      { phone: '+15555550123', timeZone: 'UTC', priority: 0, variables: { first_name: 'Grace' } },
    ]);
  });

  it('errors name the line and column, never the value', () => {
    const bad = (text: string) => {
      try {
        recipientsFromCsv(text, cols, derive, 'UTC');
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    };
    assert.equal(bad('name\nAda\n'), 'recipients CSV: no column "phone" in the header');
    const msg = bad('phone,name\n+14155550123,Ada\n4155550199,Bob\n');
    assert.equal(msg, 'recipients CSV line 3: column phone is not an E.164 number');
    assert.ok(!msg.includes('4155550199'));
    assert.equal(
      bad('phone,timezone\n+14155550123,Mars/Base\n'),
      'recipients CSV line 2: column timezone is not an IANA time zone',
    );
    assert.equal(bad('phone,name\n+14155550123\n'), 'recipients CSV line 2: 1 fields, the header has 2');
  });
});
