//! The built-in taxonomy of the procedural corpus: categories, their subtopics and the keyword
//! pools that recurring stories draw from, plus the name parts entities are made of.
//!
//! Hand-written so the default experiment needs no files; the words are ordinary English so a
//! tokenizer trained on the corpus learns realistic subwords.

/// One subtopic: a name and the keywords its stories use.
pub struct Subtopic {
    pub name: &'static str,
    pub keywords: &'static [&'static str],
}

/// One category and its subtopics.
pub struct Category {
    pub name: &'static str,
    pub subtopics: &'static [Subtopic],
    /// What kinds of entity this category's stories feature.
    pub entity_kinds: &'static [EntityKind],
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EntityKind {
    Person,
    Team,
    Company,
    Place,
    Organisation,
    Product,
}

macro_rules! sub {
    ($name:literal: $($kw:literal),+) => { Subtopic { name: $name, keywords: &[$($kw),+] } };
}

use EntityKind::*;

pub const CATEGORIES: &[Category] = &[
    Category {
        name: "sports",
        entity_kinds: &[Team, Person, Place],
        subtopics: &[
            sub!("football": "quarterback", "touchdown", "playoff", "draft", "coach", "injury", "stadium", "season"),
            sub!("basketball": "guard", "rebound", "finals", "trade", "rookie", "arena", "buzzer", "coach"),
            sub!("tennis": "grand slam", "serve", "semifinal", "ranking", "clay court", "tiebreak", "champion", "wimbledon"),
            sub!("soccer": "striker", "transfer", "derby", "penalty", "league", "goalkeeper", "cup final", "manager"),
            sub!("cycling": "peloton", "stage win", "doping", "mountain climb", "sprint", "tour", "time trial", "jersey"),
        ],
    },
    Category {
        name: "politics",
        entity_kinds: &[Person, Organisation, Place],
        subtopics: &[
            sub!("elections": "ballot", "primary", "polling", "campaign", "turnout", "debate", "recount", "candidate"),
            sub!("legislation": "senate", "bill", "filibuster", "amendment", "committee", "vote", "budget", "veto"),
            sub!("courts": "supreme court", "ruling", "appeal", "justice", "lawsuit", "verdict", "hearing", "indictment"),
            sub!("diplomacy": "summit", "treaty", "sanctions", "ambassador", "ceasefire", "talks", "embassy", "alliance"),
        ],
    },
    Category {
        name: "business",
        entity_kinds: &[Company, Person, Place],
        subtopics: &[
            sub!("markets": "stocks", "earnings", "shares", "rally", "index", "investors", "bond yields", "sell-off"),
            sub!("mergers": "acquisition", "merger", "takeover", "deal", "antitrust", "shareholders", "buyout", "valuation"),
            sub!("labour": "strike", "union", "wages", "layoffs", "hiring", "workers", "contract", "pension"),
            sub!("retail": "sales", "holiday shopping", "stores", "prices", "inflation", "supply chain", "consumers", "discounts"),
        ],
    },
    Category {
        name: "technology",
        entity_kinds: &[Company, Product, Person],
        subtopics: &[
            sub!("smartphones": "smartphone", "battery", "camera", "chip", "launch", "update", "foldable", "screen"),
            sub!("ai": "chatbot", "language model", "regulation", "training data", "startup", "robotics", "automation", "benchmark"),
            sub!("cybersecurity": "breach", "ransomware", "hackers", "vulnerability", "patch", "passwords", "encryption", "outage"),
            sub!("gaming": "console", "release", "studio", "esports", "multiplayer", "sequel", "graphics", "subscription"),
        ],
    },
    Category {
        name: "science",
        entity_kinds: &[Organisation, Person, Place],
        subtopics: &[
            sub!("space": "rocket", "launch", "mars", "telescope", "orbit", "astronauts", "moon mission", "satellite"),
            sub!("climate": "emissions", "heatwave", "glaciers", "carbon", "drought", "sea level", "wildfires", "renewables"),
            sub!("biology": "genome", "species", "fossil", "evolution", "cells", "discovery", "dinosaur", "coral reef"),
            sub!("physics": "particle", "quantum", "collider", "laser", "fusion", "experiment", "gravity", "neutrino"),
        ],
    },
    Category {
        name: "health",
        entity_kinds: &[Organisation, Person, Place],
        subtopics: &[
            sub!("outbreaks": "vaccine", "virus", "cases", "booster", "variant", "hospital", "outbreak", "quarantine"),
            sub!("nutrition": "diet", "protein", "sugar", "calories", "vitamins", "fasting", "recipes", "obesity"),
            sub!("fitness": "workout", "running", "marathon", "yoga", "strength", "training plan", "recovery", "steps"),
            sub!("mental health": "anxiety", "therapy", "sleep", "stress", "burnout", "depression", "mindfulness", "counselling"),
        ],
    },
    Category {
        name: "entertainment",
        entity_kinds: &[Person, Product, Company],
        subtopics: &[
            sub!("movies": "box office", "premiere", "trailer", "sequel", "director", "oscar", "casting", "franchise"),
            sub!("music": "album", "tour", "single", "concert", "grammy", "festival", "tickets", "chart"),
            sub!("television": "season finale", "streaming", "series", "episode", "showrunner", "reboot", "ratings", "spin-off"),
            sub!("celebrities": "wedding", "divorce", "red carpet", "interview", "memoir", "feud", "engagement", "scandal"),
        ],
    },
    Category {
        name: "travel",
        entity_kinds: &[Place, Company],
        subtopics: &[
            sub!("airlines": "flights", "delays", "airport", "fares", "pilots", "cancellations", "baggage", "routes"),
            sub!("destinations": "beaches", "hotels", "itinerary", "museums", "hiking", "islands", "resort", "old town"),
            sub!("cruises": "cruise ship", "port", "cabins", "itinerary", "voyage", "crew", "deck", "excursions"),
        ],
    },
    Category {
        name: "food",
        entity_kinds: &[Person, Place, Company],
        subtopics: &[
            sub!("restaurants": "chef", "michelin", "menu", "tasting", "bistro", "reservations", "opening", "critics"),
            sub!("cooking": "recipe", "baking", "sourdough", "grilling", "noodles", "dessert", "spices", "slow cooker"),
            sub!("wine": "vineyard", "vintage", "harvest", "sommelier", "tasting notes", "grapes", "cellar", "rosé"),
        ],
    },
    Category {
        name: "finance",
        entity_kinds: &[Organisation, Company, Person],
        subtopics: &[
            sub!("interest rates": "central bank", "rate hike", "mortgage", "inflation", "savings", "lending", "rate cut", "forecast"),
            sub!("crypto": "bitcoin", "token", "exchange", "wallet", "blockchain", "stablecoin", "mining", "crash"),
            sub!("personal finance": "retirement", "taxes", "budgeting", "credit score", "debt", "insurance", "student loans", "investing"),
        ],
    },
    Category {
        name: "autos",
        entity_kinds: &[Company, Product, Place],
        subtopics: &[
            sub!("electric cars": "electric car", "charging", "range", "battery plant", "sedan", "pickup", "recall", "autopilot"),
            sub!("motorsport": "grand prix", "pit stop", "qualifying", "driver", "podium", "circuit", "championship", "crash"),
        ],
    },
    Category {
        name: "lifestyle",
        entity_kinds: &[Person, Company, Place],
        subtopics: &[
            sub!("fashion": "runway", "designer", "collection", "sneakers", "fashion week", "trends", "vintage", "brand"),
            sub!("home": "renovation", "garden", "interior design", "furniture", "kitchen", "tiny house", "decor", "plants"),
            sub!("parenting": "toddlers", "school", "screen time", "childcare", "teenagers", "homework", "parents", "bedtime"),
        ],
    },
];

pub const FIRST_NAMES: &[&str] = &[
    "Maria", "James", "Aisha", "Liam", "Sofia", "Noah", "Elena", "Kenji", "Priya", "Lucas",
    "Amara", "Mateo", "Yara", "Oliver", "Ingrid", "Diego", "Hana", "Samuel", "Chloe", "Rafael",
    "Nadia", "Tomas", "Leila", "Viktor", "Grace", "Omar", "Freya", "Andre", "Mei", "Jonas",
];
pub const LAST_NAMES: &[&str] = &[
    "Okafor",
    "Lindqvist",
    "Moreno",
    "Tanaka",
    "Hartley",
    "Kowalski",
    "Bennett",
    "Castillo",
    "Nakamura",
    "Delacroix",
    "Osei",
    "Reyes",
    "Fitzgerald",
    "Haddad",
    "Novak",
    "Sorensen",
    "Alvarez",
    "Whitaker",
    "Mbeki",
    "Rossi",
    "Varga",
    "Chandra",
    "Holloway",
    "Petrov",
    "Quinn",
    "Brennan",
    "Ishikawa",
    "Markovic",
    "Dubois",
    "Carver",
];
pub const PLACES: &[&str] = &[
    "Riverton",
    "Port Alder",
    "Kingsbridge",
    "Eastvale",
    "Marlow Bay",
    "Northgate",
    "Sunhaven",
    "Brightwater",
    "Oakridge",
    "Westmere",
    "Stonehill",
    "Lakeview",
    "Redcliff",
    "Ashford",
    "Silverlake",
    "Granite Falls",
    "Harbor City",
    "Pinecrest",
    "Elmstead",
    "Fairhaven",
];
pub const TEAM_NOUNS: &[&str] = &[
    "Hawks", "Mariners", "Comets", "Wolves", "Titans", "Rovers", "Falcons", "Rangers", "Pioneers",
    "Lions", "Storm", "Giants",
];
pub const COMPANY_STEMS: &[&str] = &[
    "Nexora",
    "Vantix",
    "Clearpath",
    "Brightline",
    "Quantra",
    "Helix",
    "Solvane",
    "Orbitek",
    "Greenleaf",
    "Ironwood",
    "Lumeno",
    "Paragon",
    "Zephyr",
    "Cobalt",
    "Meridian",
    "Novella",
];
pub const COMPANY_SUFFIXES: &[&str] = &[
    "Labs", "Group", "Motors", "Systems", "Foods", "Capital", "Air", "Media",
];
pub const ORG_FORMS: &[&str] = &[
    "{place} Institute",
    "{place} Council",
    "Party of {place}",
    "{place} Health Agency",
    "{place} University",
    "{place} Observatory",
    "Bank of {place}",
    "{place} Court",
];
pub const PRODUCT_FORMS: &[&str] = &[
    "{stem} X{n}",
    "{stem} Pro {n}",
    "{stem} One",
    "{stem} Air {n}",
];

/// Verb phrases that headlines of any category use.
pub const HEADLINE_VERBS: &[&str] = &[
    "unveils",
    "faces questions over",
    "wins",
    "announces",
    "responds to",
    "pushes back on",
    "confirms",
    "reveals",
    "delays",
    "celebrates",
    "prepares for",
    "struggles with",
];

/// Sentence frames for abstracts.
pub const ABSTRACT_FRAMES: &[&str] = &[
    "{e1} and {e2} are at the centre of the latest {kw1} story as {kw2} dominates the week.",
    "After weeks of {kw1} talk, {e1} said the focus now shifts to {kw2}.",
    "Observers in {place} say the {kw1} debate around {e1} is far from over.",
    "{e1} drew attention to {kw1}, while {e2} pointed to {kw2} as the bigger issue.",
    "The {kw1} saga involving {e1} took a new turn on {weekday}.",
];
pub const WEEKDAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
