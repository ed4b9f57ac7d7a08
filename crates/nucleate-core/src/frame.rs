//! A frame: one configuration of atoms in a box.

use crate::cell::SimBox;
use crate::error::CoreError;

/// Values of a named per-atom property, stored row-major with `ncols` values per atom.
#[derive(Debug, Clone, PartialEq)]
pub enum PropertyValues {
    /// Real numbers (extXYZ type `R`).
    Real(Vec<f64>),
    /// Integers (extXYZ type `I`).
    Int(Vec<i64>),
    /// Logicals (extXYZ type `L`).
    Bool(Vec<bool>),
    /// Strings without whitespace (extXYZ type `S`).
    Str(Vec<String>),
}

impl PropertyValues {
    /// Number of stored values (atoms x columns).
    pub fn len(&self) -> usize {
        match self {
            PropertyValues::Real(v) => v.len(),
            PropertyValues::Int(v) => v.len(),
            PropertyValues::Bool(v) => v.len(),
            PropertyValues::Str(v) => v.len(),
        }
    }

    /// Whether no values are stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The extXYZ type letter.
    pub fn type_letter(&self) -> char {
        match self {
            PropertyValues::Real(_) => 'R',
            PropertyValues::Int(_) => 'I',
            PropertyValues::Bool(_) => 'L',
            PropertyValues::Str(_) => 'S',
        }
    }

    fn permute(&mut self, order: &[usize], ncols: usize) {
        fn apply<T: Clone>(v: &mut Vec<T>, order: &[usize], ncols: usize) {
            let mut out = Vec::with_capacity(v.len());
            for &i in order {
                out.extend_from_slice(&v[i * ncols..(i + 1) * ncols]);
            }
            *v = out;
        }
        match self {
            PropertyValues::Real(v) => apply(v, order, ncols),
            PropertyValues::Int(v) => apply(v, order, ncols),
            PropertyValues::Bool(v) => apply(v, order, ncols),
            PropertyValues::Str(v) => apply(v, order, ncols),
        }
    }
}

/// A named per-atom property (`forces`, `energies`, `q6`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// Column name as written to files.
    pub name: String,
    /// Values per atom (1 for scalars, 3 for vectors).
    pub ncols: usize,
    /// The values, row-major.
    pub values: PropertyValues,
}

/// One configuration: positions (Angstrom), species, optional ids, the box and named per-atom
/// properties, plus frame-level metadata (timestep, key=value pairs of an extXYZ comment line).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// Cartesian positions (Angstrom), one row per atom in file order.
    pub positions: Vec<[f64; 3]>,
    /// Species of each atom as an index into [`Frame::species_names`].
    pub species: Vec<u16>,
    /// Distinct species names (element symbols, or LAMMPS type numbers as text).
    pub species_names: Vec<String>,
    /// Atom ids as given by the file (LAMMPS `id`), if any.
    pub ids: Option<Vec<i64>>,
    /// The simulation box.
    pub cell: SimBox,
    /// Named per-atom properties besides species, positions and ids.
    pub properties: Vec<Property>,
    /// MD timestep number, if known.
    pub timestep: Option<u64>,
    /// Frame-level key=value metadata, in order (extXYZ comment line without Lattice,
    /// Properties and pbc).
    pub info: Vec<(String, String)>,
}

impl Frame {
    /// A frame of `positions` with one species per atom, given by name.
    pub fn new(
        positions: Vec<[f64; 3]>,
        species: &[&str],
        cell: SimBox,
    ) -> Result<Self, CoreError> {
        if species.len() != positions.len() {
            return Err(CoreError::InvalidArgument(format!(
                "{} species for {} positions",
                species.len(),
                positions.len()
            )));
        }
        let mut frame = Frame {
            positions,
            species: Vec::with_capacity(species.len()),
            species_names: Vec::new(),
            ids: None,
            cell,
            properties: Vec::new(),
            timestep: None,
            info: Vec::new(),
        };
        for s in species {
            let k = frame.species_index(s);
            frame.species.push(k);
        }
        Ok(frame)
    }

    /// Number of atoms.
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    /// Whether the frame has no atoms.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    /// The index of species `name`, added to the table if new.
    pub fn species_index(&mut self, name: &str) -> u16 {
        if let Some(k) = self.species_names.iter().position(|s| s == name) {
            return k as u16;
        }
        self.species_names.push(name.to_string());
        (self.species_names.len() - 1) as u16
    }

    /// The species name of atom `i`.
    pub fn species_of(&self, i: usize) -> &str {
        &self.species_names[self.species[i] as usize]
    }

    /// A property by name.
    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }

    /// Real values of a property by name, if it exists and is real.
    pub fn real_property(&self, name: &str) -> Option<(&[f64], usize)> {
        match self.property(name) {
            Some(Property {
                values: PropertyValues::Real(v),
                ncols,
                ..
            }) => Some((v, *ncols)),
            _ => None,
        }
    }

    /// Add or replace a per-atom property. Fails if the number of values is not
    /// `ncols * len()` or the name is reserved (`species`, `pos`, `id`).
    pub fn set_property(
        &mut self,
        name: &str,
        ncols: usize,
        values: PropertyValues,
    ) -> Result<(), CoreError> {
        if ["species", "pos", "id"].contains(&name) {
            return Err(CoreError::InvalidArgument(format!(
                "`{name}` is not a free property name"
            )));
        }
        if ncols == 0 || values.len() != ncols * self.len() {
            return Err(CoreError::InvalidArgument(format!(
                "property `{name}`: {} values for {} atoms x {ncols} columns",
                values.len(),
                self.len()
            )));
        }
        let prop = Property {
            name: name.to_string(),
            ncols,
            values,
        };
        if let Some(p) = self.properties.iter_mut().find(|p| p.name == name) {
            *p = prop;
        } else {
            self.properties.push(prop);
        }
        Ok(())
    }

    /// Frame-level metadata value by key.
    pub fn info_value(&self, key: &str) -> Option<&str> {
        self.info
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Reorder atoms (positions, species, ids, properties) so that row `k` becomes old row
    /// `order[k]`.
    pub fn permute(&mut self, order: &[usize]) {
        debug_assert_eq!(order.len(), self.len());
        self.positions = order.iter().map(|&i| self.positions[i]).collect();
        self.species = order.iter().map(|&i| self.species[i]).collect();
        if let Some(ids) = &mut self.ids {
            *ids = order.iter().map(|&i| ids[i]).collect();
        }
        for p in &mut self.properties {
            p.values.permute(order, p.ncols);
        }
    }

    /// Sort atoms by id (no-op without ids). Returns the first duplicated id, if any, without
    /// changing the frame.
    pub fn sort_by_id(&mut self) -> Result<(), i64> {
        let Some(ids) = &self.ids else { return Ok(()) };
        if ids.windows(2).all(|w| w[0] < w[1]) {
            return Ok(());
        }
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_unstable_by_key(|&i| ids[i]);
        if let Some(w) = order.windows(2).find(|w| ids[w[0]] == ids[w[1]]) {
            return Err(ids[w[0]]);
        }
        self.permute(&order);
        Ok(())
    }

    /// Check that every position is finite; the index of the first bad atom otherwise.
    pub fn first_non_finite(&self) -> Option<usize> {
        self.positions
            .iter()
            .position(|p| !p.iter().all(|x| x.is_finite()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_by_id_moves_everything_together() {
        let cell = SimBox::orthorhombic([10.0; 3], [true; 3]).unwrap();
        let mut f = Frame::new(
            vec![[0.0; 3], [1.0; 3], [2.0; 3]],
            &["Pt", "Fe", "Pt"],
            cell,
        )
        .unwrap();
        f.ids = Some(vec![30, 10, 20]);
        f.set_property("q6", 1, PropertyValues::Real(vec![0.3, 0.1, 0.2]))
            .unwrap();
        f.sort_by_id().unwrap();
        assert_eq!(f.ids.as_deref(), Some(&[10, 20, 30][..]));
        assert_eq!(f.positions[0], [1.0; 3]);
        assert_eq!(f.species_of(0), "Fe");
        assert_eq!(f.real_property("q6").unwrap().0, &[0.1, 0.2, 0.3]);
    }

    #[test]
    fn duplicate_ids_are_reported() {
        let cell = SimBox::orthorhombic([10.0; 3], [true; 3]).unwrap();
        let mut f = Frame::new(vec![[0.0; 3], [1.0; 3], [2.0; 3]], &["Pt"; 3], cell).unwrap();
        f.ids = Some(vec![3, 7, 3]);
        assert_eq!(f.sort_by_id(), Err(3));
        assert_eq!(f.ids.as_deref(), Some(&[3, 7, 3][..]));
    }

    #[test]
    fn property_length_is_checked() {
        let cell = SimBox::orthorhombic([10.0; 3], [true; 3]).unwrap();
        let mut f = Frame::new(vec![[0.0; 3], [1.0; 3]], &["Pt"; 2], cell).unwrap();
        assert!(f
            .set_property("forces", 3, PropertyValues::Real(vec![0.0; 5]))
            .is_err());
        assert!(f
            .set_property("pos", 3, PropertyValues::Real(vec![0.0; 6]))
            .is_err());
        assert!(f
            .set_property("forces", 3, PropertyValues::Real(vec![0.0; 6]))
            .is_ok());
    }
}
