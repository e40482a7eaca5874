//! The vendor's records, computed on demand from the seed and never stored.
//!
//! Identifiers use fixed strides so that any record is found from its id in constant time and ids
//! stay the same when a count changes:
//! - branch ids are `1..=branches`, the original's 13 names first, in the original's order;
//! - employee `i` (from 0) of branch `b` has id `b * EMPLOYEE_ID_STRIDE + i + 1`;
//! - sale `k` (from 0) of salesperson `e` has id `e * SALE_ID_STRIDE + k + 1`.
//!
//! The id ranges of the three kinds do not overlap, so an id alone names a record. Each branch has
//! `salespersons` salespersons plus 3 to 6 other employees (a manager and others), placed at
//! seeded positions among them. Every field is drawn from the seed and the record's id, except the
//! fields that a revision alters (see [`revision_touches`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::{Config, ConfigError};
use crate::faults::{Faults, Malformation};
use crate::mix::{mix, Tag};

/// Employee ids are `branch_id * EMPLOYEE_ID_STRIDE + index + 1`.
pub const EMPLOYEE_ID_STRIDE: u64 = 100_000;
/// Sale ids are `salesperson_id * SALE_ID_STRIDE + index + 1`.
pub const SALE_ID_STRIDE: u64 = 100_000;
/// Revision `k` alters the records whose [`revision_class`] is `k` modulo this number (about 5%).
pub const REVISION_MODULUS: u64 = 20;

/// The original pipeline's default branch list, served first and in this order.
pub const BRANCH_ORIGINALS: [&str; 13] = [
    "Scranton",
    "Akron",
    "Buffalo",
    "Rochester",
    "Syracuse",
    "Utica",
    "Binghamton",
    "Albany",
    "Nashua",
    "Pittsfield",
    "Stamford",
    "Yonkers",
    "New York",
];

/// State and telephone area code of each original branch, in the order of [`BRANCH_ORIGINALS`].
const ORIGINAL_PLACES: [(&str, u16); 13] = [
    ("PA", 570),
    ("OH", 330),
    ("NY", 716),
    ("NY", 585),
    ("NY", 315),
    ("NY", 315),
    ("NY", 607),
    ("NY", 518),
    ("NH", 603),
    ("MA", 413),
    ("CT", 203),
    ("NY", 914),
    ("NY", 212),
];

/// Cities of the generated branches. Past the end of the list the names repeat with a number
/// ("Allentown 2"), so that every branch name stays unique.
const EXTRA_CITIES: [(&str, &str, u16); 25] = [
    ("Allentown", "PA", 610),
    ("Erie", "PA", 814),
    ("Harrisburg", "PA", 717),
    ("Lancaster", "PA", 717),
    ("Reading", "PA", 610),
    ("Camden", "NJ", 856),
    ("Trenton", "NJ", 609),
    ("Newark", "NJ", 973),
    ("Hartford", "CT", 860),
    ("New Haven", "CT", 203),
    ("Providence", "RI", 401),
    ("Worcester", "MA", 508),
    ("Springfield", "MA", 413),
    ("Lowell", "MA", 978),
    ("Manchester", "NH", 603),
    ("Portland", "ME", 207),
    ("Burlington", "VT", 802),
    ("Ithaca", "NY", 607),
    ("Schenectady", "NY", 518),
    ("Elmira", "NY", 607),
    ("Toledo", "OH", 419),
    ("Cleveland", "OH", 216),
    ("Dayton", "OH", 937),
    ("Wilmington", "DE", 302),
    ("Baltimore", "MD", 410),
];

const STREETS: [&str; 10] = [
    "Slough",
    "Main",
    "Market",
    "Maple",
    "Oak",
    "Washington",
    "Lackawanna",
    "Commerce",
    "Franklin",
    "Park",
];
const STREET_KINDS: [&str; 4] = ["Avenue", "Street", "Road", "Boulevard"];

const FIRST_NAMES: [&str; 24] = [
    "Michael", "Dwight", "Jim", "Pam", "Ryan", "Andy", "Angela", "Kevin", "Oscar", "Stanley",
    "Phyllis", "Meredith", "Creed", "Kelly", "Toby", "Darryl", "Erin", "Gabe", "Holly", "Jan",
    "Karen", "Clark", "Pete", "Nellie",
];
const LAST_NAMES: [&str; 24] = [
    "Scott",
    "Schrute",
    "Halpert",
    "Beesly",
    "Howard",
    "Bernard",
    "Martin",
    "Malone",
    "Martinez",
    "Hudson",
    "Vance",
    "Palmer",
    "Bratton",
    "Kapoor",
    "Flenderson",
    "Philbin",
    "Hannon",
    "Lewis",
    "Flax",
    "Levinson",
    "Filippelli",
    "Green",
    "Miller",
    "Bertram",
];

const CUSTOMERS: [&str; 16] = [
    "Blue Cross of Pennsylvania",
    "Lackawanna County",
    "Harper Collins",
    "Apex Technology",
    "Prince Family Paper",
    "Stamford Savings",
    "Utica Insurance Group",
    "Akron Tire Works",
    "Binghamton Medical",
    "Albany State Office",
    "Nashua Print Shop",
    "Scranton White Pages",
    "Vance Refrigeration",
    "Poor Richard's Pub",
    "Cugini's Restaurant",
    "Hammermill Supply",
];

/// Products with their list price in cents; a sale's unit price varies by up to 10% around it.
const PRODUCTS: [(&str, u64); 10] = [
    ("Copy Paper Letter 20lb (case)", 4_299),
    ("Copy Paper Legal 20lb (case)", 5_199),
    ("Cardstock 110lb (ream)", 1_899),
    ("Colored Paper Assorted (ream)", 1_249),
    ("Envelopes #10 (box of 500)", 2_649),
    ("Premium Bond Paper 24lb (ream)", 1_599),
    ("Recycled Copy Paper (case)", 3_899),
    ("Sticky Notes 3x3 (24 pads)", 1_799),
    ("Manila Folders Letter (box of 100)", 1_399),
    ("Continuous Form Paper (box)", 6_499),
];

const BAD_SALE_TIMESTAMPS: [&str; 5] = [
    "2024-13-45 25:61:61",
    "not a timestamp",
    "",
    "1700000000",
    "yesterday 14:00",
];
const BAD_HIRE_DATES: [&str; 4] = ["2019-02-30", "not a date", "", "03/14/2015"];

/// What an employee does; only salespersons have sales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Occupation {
    /// Sells paper; the only occupation the cascade carries on.
    Salesperson,
    /// The branch's regional manager; every branch has exactly one.
    Manager,
    /// Keeps the books.
    Accountant,
    /// Answers the phone.
    Receptionist,
    /// Human resources.
    HumanResources,
    /// Works in the warehouse.
    Warehouse,
    /// Quality assurance.
    QualityAssurance,
    /// Customer service.
    CustomerService,
    /// Supplier relations.
    SupplierRelations,
}

/// The occupations drawn for the other employees after the manager.
const OTHER_OCCUPATIONS: [Occupation; 7] = [
    Occupation::Accountant,
    Occupation::Receptionist,
    Occupation::HumanResources,
    Occupation::Warehouse,
    Occupation::QualityAssurance,
    Occupation::CustomerService,
    Occupation::SupplierRelations,
];

impl Occupation {
    /// The occupation as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Occupation::Salesperson => "salesperson",
            Occupation::Manager => "manager",
            Occupation::Accountant => "accountant",
            Occupation::Receptionist => "receptionist",
            Occupation::HumanResources => "human resources",
            Occupation::Warehouse => "warehouse",
            Occupation::QualityAssurance => "quality assurance",
            Occupation::CustomerService => "customer service",
            Occupation::SupplierRelations => "supplier relations",
        }
    }
}

/// A branch of the paper company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branch {
    /// Branch id, from 1.
    pub id: u64,
    /// Unique name; the original's names for ids 1 to 13.
    pub branch_name: String,
    /// The city, which is the name without a repeat number.
    pub city: &'static str,
    /// Two-letter state code.
    pub state: &'static str,
    /// Street address.
    pub address: String,
    /// Phone number; altered by revisions.
    pub phone: String,
    /// How the record is served broken, if it is.
    pub malformed: Option<Malformation>,
}

/// An employee of a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Employee {
    /// Employee id (see the module's id scheme).
    pub id: u64,
    /// The branch the employee works at.
    pub branch_id: u64,
    /// First name.
    pub first_name: &'static str,
    /// Last name; altered by revisions.
    pub last_name: &'static str,
    /// What the employee does.
    pub occupation: Occupation,
    /// Email address, derived from the names and the id.
    pub email: String,
    /// Hire date, `YYYY-MM-DD`.
    pub hired_on: String,
    /// How the record is served broken, if it is.
    pub malformed: Option<Malformation>,
}

/// A sale by a salesperson.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sale {
    /// Sale id (see the module's id scheme).
    pub id: u64,
    /// The salesperson who made the sale.
    pub salesperson_id: u64,
    /// The salesperson's branch.
    pub branch_id: u64,
    /// The buying company.
    pub customer: &'static str,
    /// The product sold.
    pub product: &'static str,
    /// Units sold; altered by revisions.
    pub quantity: u64,
    /// Price of one unit in cents.
    pub unit_price_cents: u64,
    /// `quantity * unit_price_cents`.
    pub total_cents: u64,
    /// Seconds since the Unix epoch, inside `[now - window, now)`.
    pub transaction_time: i64,
    /// How the record is served broken, if it is.
    pub malformed: Option<Malformation>,
}

impl Sale {
    /// The unit price as the API spells it: a decimal string with two places.
    pub fn unit_price(&self) -> String {
        format_cents(self.unit_price_cents)
    }

    /// The total as the API spells it: a decimal string with two places.
    pub fn total(&self) -> String {
        format_cents(self.total_cents)
    }

    /// The transaction time as the API spells it: `YYYY-MM-DD HH:MM:SS`, UTC.
    pub fn transaction_timestamp(&self) -> String {
        format_timestamp(self.transaction_time)
    }
}

/// The revision class of a record, in `0..REVISION_MODULUS`: a hash of the id alone (not of the
/// seed), so that the classes spread evenly over every kind of record whatever the counts.
pub fn revision_class(id: u64) -> u64 {
    mix(0, Tag::Revision, id, 0) % REVISION_MODULUS
}

/// How many of the revisions `1..=revision` alter the record with this id.
///
/// Revision `k` alters exactly the records whose [`revision_class`] is `k` modulo
/// [`REVISION_MODULUS`] (about 5% of each kind): a branch's phone, an employee's last name and
/// email, a sale's quantity and total. A record's altered fields depend on this count, and each
/// count gives other values than the one before, so going from revision `r` to `r + 1` changes
/// exactly the records of class `(r + 1) % 20` and nothing else.
pub fn revision_touches(id: u64, revision: u32) -> u32 {
    let class = revision_class(id);
    let first = if class == 0 { REVISION_MODULUS } else { class };
    let revision = u64::from(revision);
    if revision < first {
        0
    } else {
        // At most revision / 20 + 1, which fits a u32 because revision does.
        ((revision - first) / REVISION_MODULUS + 1) as u32
    }
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn format_timestamp(unix_seconds: i64) -> String {
    let mut out = Vec::with_capacity(19);
    write_timestamp(&mut out, unix_seconds);
    // Only ASCII digits and separators are written.
    String::from_utf8(out).unwrap_or_default()
}

/// Writes `YYYY-MM-DD HH:MM:SS` for Unix seconds; out-of-range times clamp to the epoch.
pub(crate) fn write_timestamp(out: &mut Vec<u8>, unix_seconds: i64) {
    let at = time::OffsetDateTime::from_unix_timestamp(unix_seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    write_date(out, at.date());
    out.push(b' ');
    two_digits(out, at.hour());
    out.push(b':');
    two_digits(out, at.minute());
    out.push(b':');
    two_digits(out, at.second());
}

fn write_date(out: &mut Vec<u8>, date: time::Date) {
    let year = date.year().clamp(0, 9999) as u16;
    two_digits(out, (year / 100) as u8);
    two_digits(out, (year % 100) as u8);
    out.push(b'-');
    two_digits(out, date.month() as u8);
    out.push(b'-');
    two_digits(out, date.day());
}

fn two_digits(out: &mut Vec<u8>, value: u8) {
    out.push(b'0' + value / 10 % 10);
    out.push(b'0' + value % 10);
}

/// Formats cents as a decimal string with two places.
pub(crate) fn format_cents(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// The vendor's whole dataset, computed on demand.
#[derive(Debug, Clone)]
pub struct Dataset {
    config: Config,
    faults: Faults,
    /// End of the sales window, in Unix seconds.
    now: i64,
    window_secs: u64,
}

/// Where a branch's non-salesperson employees sit among its employees.
struct Staffing {
    /// Number of employees, others included.
    count: u64,
    /// Number of other employees (3 to 6).
    others: u64,
    /// Width of the equal segments, one per other employee, that each hold one of them.
    segment: u64,
}

impl Dataset {
    /// Checks `config` and fixes the end of the sales window: the start of the clock's current
    /// hour (UTC) if not given, so that a server restarted within the hour serves the same
    /// records.
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let unix = |at: SystemTime| match at.duration_since(UNIX_EPOCH) {
            Ok(since) => since.as_secs() as i64,
            Err(before) => -(before.duration().as_secs_f64().ceil() as i64),
        };
        let now = match config.now {
            Some(end) => unix(end),
            None => unix(config.clock.now()).div_euclid(3_600) * 3_600,
        };
        let window_secs = config.window.as_secs().max(1);
        let faults = Faults::new(&config);
        Ok(Self {
            config,
            faults,
            now,
            window_secs,
        })
    }

    /// The configuration the dataset was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The fault decisions of this configuration.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// End of the sales window (exclusive); whole seconds.
    pub fn now(&self) -> SystemTime {
        at_unix(self.now)
    }

    /// Start of the sales window (inclusive).
    pub fn window_start(&self) -> SystemTime {
        self.now() - Duration::from_secs(self.window_secs)
    }

    /// Number of branches.
    pub fn branch_count(&self) -> u64 {
        u64::from(self.config.branches)
    }

    /// Every branch, by id.
    pub fn branches(&self) -> impl Iterator<Item = Branch> + '_ {
        (1..=self.branch_count()).filter_map(|id| self.branch(id))
    }

    /// The branch with this id.
    pub fn branch(&self, id: u64) -> Option<Branch> {
        if id == 0 || id > self.branch_count() {
            return None;
        }
        let seed = self.config.seed;
        let (branch_name, city, state, area) = if id <= 13 {
            let i = (id - 1) as usize;
            let (state, area) = ORIGINAL_PLACES[i];
            (
                BRANCH_ORIGINALS[i].to_string(),
                BRANCH_ORIGINALS[i],
                state,
                area,
            )
        } else {
            let j = (id - 14) as usize;
            let (city, state, area) = EXTRA_CITIES[j % EXTRA_CITIES.len()];
            let round = j / EXTRA_CITIES.len();
            let name = if round == 0 {
                city.to_string()
            } else {
                format!("{city} {}", round + 1)
            };
            (name, city, state, area)
        };
        let address = if id == 1 {
            // The original's own branch keeps its well-known address.
            "1725 Slough Avenue".to_string()
        } else {
            let h = mix(seed, Tag::BranchAddress, id, 0);
            format!(
                "{} {} {}",
                100 + h % 9_900,
                STREETS[(h >> 20) as usize % STREETS.len()],
                STREET_KINDS[(h >> 40) as usize % STREET_KINDS.len()]
            )
        };
        let touches = u64::from(revision_touches(id, self.config.revision));
        // 37 is coprime with 10,000, so every revision that touches the branch changes its number.
        let line = (mix(seed, Tag::BranchPhone, id, 0) % 10_000 + touches * 37) % 10_000;
        Some(Branch {
            id,
            branch_name,
            city,
            state,
            address,
            phone: format!("({area}) 555-{line:04}"),
            malformed: self.faults.malformation(id, &[]),
        })
    }

    /// The branch with this exact name.
    pub fn branch_by_name(&self, name: &str) -> Option<Branch> {
        if let Some(i) = BRANCH_ORIGINALS.iter().position(|&n| n == name) {
            return self.branch(i as u64 + 1);
        }
        // Generated names are a city, optionally followed by a repeat number from 2 on.
        let (city, round) = match name.rsplit_once(' ') {
            Some((city, number)) => match number.parse::<u64>() {
                Ok(n) if n >= 2 && !number.starts_with('0') => (city, n - 1),
                _ => (name, 0),
            },
            None => (name, 0),
        };
        let position = EXTRA_CITIES.iter().position(|&(c, _, _)| c == city)? as u64;
        let id = 14 + round * EXTRA_CITIES.len() as u64 + position;
        self.branch(id).filter(|branch| branch.branch_name == name)
    }

    fn staffing(&self, branch_id: u64) -> Option<Staffing> {
        if branch_id == 0 || branch_id > self.branch_count() {
            return None;
        }
        let others = 3 + mix(self.config.seed, Tag::OtherCount, branch_id, 0) % 4;
        let count = u64::from(self.config.salespersons) + others;
        Some(Staffing {
            count,
            others,
            segment: count / others,
        })
    }

    fn occupation_at(&self, branch_id: u64, staffing: &Staffing, index: u64) -> Occupation {
        let j = index / staffing.segment;
        if j < staffing.others {
            let position = j * staffing.segment
                + mix(self.config.seed, Tag::OtherPosition, branch_id, j) % staffing.segment;
            if index == position {
                if j == 0 {
                    return Occupation::Manager;
                }
                let pick = mix(self.config.seed, Tag::OtherOccupation, branch_id, j);
                return OTHER_OCCUPATIONS[pick as usize % OTHER_OCCUPATIONS.len()];
            }
        }
        Occupation::Salesperson
    }

    /// Number of employees of a branch, others included; `None` for an unknown branch.
    pub fn employee_count(&self, branch_id: u64) -> Option<u64> {
        self.staffing(branch_id).map(|staffing| staffing.count)
    }

    /// Every employee of a branch, by id; empty for an unknown branch.
    pub fn employees(&self, branch_id: u64) -> impl Iterator<Item = Employee> + '_ {
        let count = self.employee_count(branch_id).unwrap_or(0);
        self.employee_range(branch_id, 0, count)
    }

    /// The salespersons of a branch, by id.
    pub fn salespersons(&self, branch_id: u64) -> impl Iterator<Item = Employee> + '_ {
        self.employees(branch_id)
            .filter(|employee| employee.occupation == Occupation::Salesperson)
    }

    /// Employees `start..end` (by index within the branch), clamped to the branch's employees.
    pub fn employee_range(
        &self,
        branch_id: u64,
        start: u64,
        end: u64,
    ) -> impl Iterator<Item = Employee> + '_ {
        let staffing = self.staffing(branch_id);
        let end = staffing.as_ref().map_or(0, |s| end.min(s.count));
        (start..end).filter_map(move |index| {
            let staffing = staffing.as_ref()?;
            Some(self.employee_at(branch_id, staffing, index))
        })
    }

    /// The employee with this id.
    pub fn employee(&self, id: u64) -> Option<Employee> {
        let branch_id = id / EMPLOYEE_ID_STRIDE;
        let index = (id % EMPLOYEE_ID_STRIDE).checked_sub(1)?;
        let staffing = self.staffing(branch_id)?;
        (index < staffing.count).then(|| self.employee_at(branch_id, &staffing, index))
    }

    fn employee_at(&self, branch_id: u64, staffing: &Staffing, index: u64) -> Employee {
        let seed = self.config.seed;
        let id = branch_id * EMPLOYEE_ID_STRIDE + index + 1;
        let touches = u64::from(revision_touches(id, self.config.revision));
        let first_name = FIRST_NAMES[(mix(seed, Tag::FirstName, id, 0) % 24) as usize];
        // 24 names: a revision moves to the next name, so a touched employee always changes.
        let last_name =
            LAST_NAMES[((mix(seed, Tag::LastName, id, 0) % 24 + touches) % 24) as usize];
        let email = format!(
            "{}.{}.{id}@dundermifflin.com",
            first_name.to_ascii_lowercase(),
            last_name.to_ascii_lowercase()
        );
        // Hired between 30 days and about 25 years before the window's end.
        let days_before = 30 + mix(seed, Tag::HiredOn, id, 0) % (25 * 365);
        let hired = self.now - (days_before * 86_400) as i64;
        let mut hired_on = Vec::with_capacity(10);
        write_date(
            &mut hired_on,
            time::OffsetDateTime::from_unix_timestamp(hired)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
                .date(),
        );
        Employee {
            id,
            branch_id,
            first_name,
            last_name,
            occupation: self.occupation_at(branch_id, staffing, index),
            email,
            hired_on: String::from_utf8(hired_on).unwrap_or_default(),
            malformed: self.faults.malformation(id, &BAD_HIRE_DATES),
        }
    }

    /// Number of sales of an employee: `None` for an unknown employee, 0 for one who does not sell.
    pub fn sale_count(&self, employee_id: u64) -> Option<u64> {
        Some(
            if self.occupation(employee_id)? == Occupation::Salesperson {
                u64::from(self.config.sales)
            } else {
                0
            },
        )
    }

    /// The occupation of the employee with this id, without building the whole record.
    pub fn occupation(&self, employee_id: u64) -> Option<Occupation> {
        let branch_id = employee_id / EMPLOYEE_ID_STRIDE;
        let index = (employee_id % EMPLOYEE_ID_STRIDE).checked_sub(1)?;
        let staffing = self.staffing(branch_id)?;
        (index < staffing.count).then(|| self.occupation_at(branch_id, &staffing, index))
    }

    /// Every sale of a salesperson, by id; empty for anyone else.
    pub fn sales(&self, salesperson_id: u64) -> impl Iterator<Item = Sale> + '_ {
        let count = self.sale_count(salesperson_id).unwrap_or(0);
        self.sale_range(salesperson_id, 0, count)
    }

    /// Sales `start..end` (by index) of a salesperson, clamped to the configured count. The caller
    /// checks that the employee is a salesperson ([`Dataset::sale_count`]).
    pub fn sale_range(
        &self,
        salesperson_id: u64,
        start: u64,
        end: u64,
    ) -> impl Iterator<Item = Sale> + '_ {
        let end = end.min(u64::from(self.config.sales));
        (start..end).map(move |index| self.sale_at(salesperson_id, index))
    }

    /// Sale `index` (from 0) of a salesperson.
    pub fn sale_at(&self, salesperson_id: u64, index: u64) -> Sale {
        let seed = self.config.seed;
        let id = salesperson_id * SALE_ID_STRIDE + index + 1;
        let offset = mix(seed, Tag::SaleTime, id, 0) % self.window_secs;
        let (product, list_price) = PRODUCTS[(mix(seed, Tag::SaleProduct, id, 0) % 10) as usize];
        let unit_price_cents = list_price * (90 + mix(seed, Tag::SalePrice, id, 0) % 21) / 100;
        let quantity = 1
            + mix(seed, Tag::SaleQuantity, id, 0) % 50
            + u64::from(revision_touches(id, self.config.revision));
        Sale {
            id,
            salesperson_id,
            branch_id: salesperson_id / EMPLOYEE_ID_STRIDE,
            customer: CUSTOMERS[(mix(seed, Tag::SaleCustomer, id, 0) % 16) as usize],
            product,
            quantity,
            unit_price_cents,
            total_cents: quantity * unit_price_cents,
            transaction_time: self.now - 1 - offset as i64,
            malformed: self.faults.malformation(id, &BAD_SALE_TIMESTAMPS),
        }
    }
}

fn at_unix(seconds: i64) -> SystemTime {
    if seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(seconds as u64)
    } else {
        UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dataset(config: Config) -> Dataset {
        Dataset::new(Config {
            now: Some(UNIX_EPOCH + Duration::from_secs(1_700_000_000)),
            ..config
        })
        .expect("valid config")
    }

    #[test]
    fn timestamps_and_cents_use_the_api_spelling() {
        expect_test::expect!["2023-11-14 22:13:20"].assert_eq(&format_timestamp(1_700_000_000));
        expect_test::expect!["1970-01-01 00:00:00"].assert_eq(&format_timestamp(0));
        expect_test::expect!["12.05"].assert_eq(&format_cents(1_205));
        expect_test::expect!["0.07"].assert_eq(&format_cents(7));
    }

    #[test]
    fn revision_k_touches_the_records_of_class_k() {
        let of_class = |class: u64| (1..).find(|&id| revision_class(id) == class).unwrap();
        let three = of_class(3);
        let touches: Vec<u32> = (0..6).map(|r| revision_touches(three, r)).collect();
        assert_eq!(touches, [0, 0, 0, 1, 1, 1]);
        assert_eq!(revision_touches(three, 43), 3);
        let zero = of_class(0);
        assert_eq!(revision_touches(zero, 19), 0);
        assert_eq!(revision_touches(zero, 20), 1);
        assert_eq!(revision_touches(zero, 40), 2);
        let in_class_7 = (0..100_000).filter(|&id| revision_class(id) == 7).count();
        assert!((4_700..=5_300).contains(&in_class_7), "{in_class_7}");
    }

    #[test]
    fn names_map_back_to_their_branch() {
        let data = dataset(Config {
            branches: 80,
            ..Config::default()
        });
        for branch in data.branches() {
            let found = data.branch_by_name(&branch.branch_name);
            assert_eq!(
                found.map(|b| b.id),
                Some(branch.id),
                "{}",
                branch.branch_name
            );
        }
        assert_eq!(
            data.branch(64).map(|b| b.branch_name),
            Some("Allentown 3".into())
        );
        assert!(data.branch_by_name("Allentown 4").is_none());
        assert!(data.branch_by_name("Allentown 1").is_none());
        assert!(data.branch_by_name("Gotham").is_none());
    }

    #[test]
    fn every_branch_has_one_manager_and_its_salespersons() {
        let data = dataset(Config {
            branches: 20,
            salespersons: 7,
            ..Config::default()
        });
        for branch in data.branches() {
            let employees: Vec<Employee> = data.employees(branch.id).collect();
            let managers = employees
                .iter()
                .filter(|e| e.occupation == Occupation::Manager)
                .count();
            let salespersons = data.salespersons(branch.id).count();
            assert_eq!(managers, 1);
            assert_eq!(salespersons, 7);
            assert!((10..=13).contains(&employees.len()));
            for employee in &employees {
                assert_eq!(data.employee(employee.id).as_ref(), Some(employee));
            }
        }
    }

    #[test]
    fn the_window_ends_on_the_clocks_hour_when_not_pinned() {
        let at = |millis: u64| {
            let clock = crate::ManualClock::new(UNIX_EPOCH + Duration::from_millis(millis));
            Dataset::new(Config {
                clock: crate::SharedClock::new(clock),
                ..Config::default()
            })
            .expect("valid config")
        };
        // 1,234,567,890 s is 31 min 30 s past the hour that starts at 1,234,566,000 s.
        let data = at(1_234_567_890_999);
        assert_eq!(data.now(), UNIX_EPOCH + Duration::from_secs(1_234_566_000));
        assert_eq!(
            data.window_start(),
            UNIX_EPOCH + Duration::from_secs(1_234_566_000 - 86_400)
        );
        let restarted = at(1_234_569_599_999);
        assert_eq!(restarted.now(), data.now(), "the same hour");
        let seller = data.salespersons(1).next().expect("a salesperson");
        assert!(data.sales(seller.id).eq(restarted.sales(seller.id)));
        assert_eq!(
            at(1_234_569_600_000).now(),
            UNIX_EPOCH + Duration::from_secs(1_234_569_600),
            "the next hour"
        );
    }

    #[test]
    fn sales_fall_inside_the_window() {
        let data = dataset(Config {
            window: Duration::from_secs(3_600),
            sales: 500,
            ..Config::default()
        });
        let seller = data.salespersons(1).next().expect("a salesperson");
        let sales: Vec<Sale> = data.sales(seller.id).collect();
        assert_eq!(sales.len(), 500);
        for sale in &sales {
            assert!((1_700_000_000 - 3_600..1_700_000_000).contains(&sale.transaction_time));
            assert_eq!(sale.total_cents, sale.quantity * sale.unit_price_cents);
        }
    }
}
